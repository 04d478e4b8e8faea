"""Stable problem codes: every kind of problem kpirules reports has one.

A code never changes meaning. Codes are grouped by area:
KR1xx reading the YAML file, KR2xx schema (structure, types, unknown keys),
KR3xx meaning (ids, weights, bands, formulas, targets, methods, rules),
KR4xx test cases, KR5xx metrics files, KR6xx scoring, KR7xx the audit ledger.

``CODES`` maps each code to its English title, its Chinese title and the fix (in Chinese,
as policy staff read it); ``docs/errors.md`` and ``docs/zh/errors.md`` list every one.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class CodeInfo:
    """What one problem code means and how to fix it."""

    title: str
    title_zh: str
    fix: str


def _c(title: str, title_zh: str, fix: str) -> CodeInfo:
    return CodeInfo(title, title_zh, fix)


CODES: dict[str, CodeInfo] = {
    # KR1xx: reading the YAML file
    "KR101": _c("File is UTF-16", "文件是 UTF-16 编码", "用编辑器另存为 UTF-8 编码"),
    "KR102": _c("File is not UTF-8", "文件不是 UTF-8 编码", "用编辑器另存为 UTF-8 编码"),
    "KR103": _c("File too large", "文件过大", "拆分规则集，或删去无关内容"),
    "KR104": _c("Text too large", "文本过大", "拆分规则集，或删去无关内容"),
    "KR105": _c("File cannot be read", "无法读取文件", "检查文件路径和访问权限"),
    "KR106": _c("Unencodable character", "文本含有无法编码的字符", "删除乱码字符后重新保存"),
    "KR107": _c("File is empty", "文件为空", "写入规则集内容，或检查是否选错了文件"),
    "KR108": _c("Control character in file", "文件含有控制字符", "确认这是文本文件，删除控制字符"),
    "KR109": _c("Nesting too deep", "嵌套层数过多", "减少缩进层级"),
    "KR110": _c("YAML syntax error", "YAML 格式错误", "按提示的行列修正缩进、冒号、引号或括号"),
    "KR111": _c("YAML error", "YAML 错误", "按提示修正文件格式"),
    "KR112": _c("Structure too deep to read", "文件结构过深", "减少嵌套层级"),
    "KR113": _c("Alias not supported", "不支持别名 *", "把要复用的内容直接写出来"),
    "KR114": _c("Anchor not supported", "不支持锚点 &", "把要复用的内容直接写出来"),
    "KR115": _c("Tag not supported", "不支持标签 !!", "删除标签，按普通值书写"),
    "KR116": _c("Number out of range", "数值超出可用范围", "缩短数值的位数"),
    "KR117": _c("Complex key", "键不是简单文字", "键只写简单的文字"),
    "KR118": _c("Merge key not supported", "不支持合并键 <<", "把要复用的内容直接写出来"),
    "KR119": _c("Duplicate key", "重复的键", "删除或改名其中一个"),
    "KR120": _c("Hidden character", "含有控制字符或不可见字符", "删除该字符"),
    "KR121": _c("File not found", "引用的文件不存在", "检查相对路径"),
    "KR122": _c("Reference cycle", "文件之间循环引用", "删去循环中的一处引用"),
    "KR123": _c("References too deep", "引用层数过多", "最多引用 8 层"),
    "KR124": _c("Item defined in two files", "条目在两个文件中定义", "按提示写 replace 或 remove"),
    "KR125": _c("Nothing inherited by that id", "没有这个继承的条目", "检查 id 的拼写"),
    "KR126": _c("File of the wrong kind", "文件种类不对", "按提示改用正确的文件"),
    "KR127": _c("Reference written wrongly", "引用写法不对", "按提示改写"),
    "KR128": _c("Base or fragment scored", "不能单独计分", "使用引用它的规则集"),
    "KR129": _c("Text names other files", "文本引用了其他文件", "保存为文件后再检查"),
    # KR2xx: schema (structure, types, unknown keys)
    "KR201": _c("Required key missing", "缺少必填项", "补上提示的必填项"),
    "KR202": _c("Unknown key", "不认识的键", "检查拼写，按提示改成可用的键"),
    "KR203": _c("Invalid name", "名字不合规", "名字只用字母、汉字、数字和下划线，以字母或汉字开头"),
    "KR204": _c("Value not allowed", "不是可用的值", "改成提示中列出的值之一"),
    "KR205": _c("Number with leading zero", "数值以 0 开头", "去掉开头的 0"),
    "KR206": _c("Wrong type", "类型不对", "按提示写成数值、文字、列表或映射"),
    "KR207": _c("Malformed value", "写法不正确", "按提示的格式改写"),
    "KR208": _c("Value out of bounds", "数值超出范围", "改成允许范围内的数"),
    "KR209": _c("Must not be empty", "不能为空", "至少写一项"),
    "KR210": _c("Too many items", "项数过多", "删去多余的项"),
    "KR211": _c("Schema violation", "结构不符合格式", "按提示修改"),
    "KR212": _c(
        "Top level is not a mapping",
        "规则集文件的顶层应是映射（键: 值）",
        "把整个文件写成“键: 值”的映射",
    ),
    # KR3xx: meaning (ids, weights, bands, formulas, targets, methods, rules)
    "KR301": _c("Section could not be checked", "无法完成检查", "先改正该部分中无法识别的写法"),
    "KR302": _c("Reserved name used as id", "“…” 是保留名字，不能用作 id", "换一个 id"),
    "KR303": _c("Duplicate id", "id “…” 重复（第 … 行已使用）", "给其中一个改用不同的 id"),
    "KR304": _c("Date does not exist", "日期 “…” 不存在", "写一个真实存在的日期，如 2026-02-28"),
    "KR305": _c(
        "Period ends before it starts",
        "施行期间的结束日期 … 早于开始日期 …",
        "把结束日期改为不早于开始日期",
    ),
    "KR306": _c("show lists a non-metric", "“…” 不是指标", "show 中只写 metrics 中的指标"),
    "KR307": _c(
        "show lists an undefined metric",
        "show 中的指标 “…” 没有定义",
        "先在 metrics 中声明，或从 show 删去",
    ),
    "KR308": _c(
        "show lists a metric of the wrong unit",
        "show 只能列出金额、计数或时长指标",
        "show 中只写金额、计数或时长指标",
    ),
    "KR309": _c(
        "Duration metric without unit",
        "时长指标要用 in 写明单位：分钟、小时、天或工作日",
        "写 in: 分钟、小时、天或工作日",
    ),
    "KR310": _c(
        "Rating metric without range",
        "评分指标要写明评分范围 min 和 max，如 min: 0、max: 100",
        "写 min 和 max，如 min: 0、max: 100",
    ),
    "KR311": _c("max not above min", "max（…）必须大于 min（…）", "把 max 改为大于 min"),
    "KR312": _c(
        "ratings on a non-rating metric",
        "ratings（多人评分合成）只用于 unit: rating 的指标",
        "删去 ratings，或把 unit 改为 rating",
    ),
    "KR313": _c(
        "Too few raters for a trimmed mean",
        "去掉最高分和最低分后至少要剩 1 个评分",
        "把 min_raters 改为至少 3",
    ),
    "KR314": _c(
        "Rating metric with a formula",
        "评分指标由评分人打分，不能用公式派生",
        "删去 formula，评分由评分人给出",
    ),
    "KR315": _c(
        "Derived metric with an aggregate",
        "派生指标按公式由汇总后的输入重新计算（率 = 分子之和 / 分母之和），不能写 aggregate: …",
        "删去 aggregate，派生指标按公式重新计算",
    ),
    "KR316": _c(
        "recompute on an input metric",
        "只有派生指标（有 formula）才能用 recompute",
        "删去 recompute，或给指标写 formula",
    ),
    "KR317": _c(
        "Percent or ratio summed across periods",
        "百分比或比值不能跨期相加",
        "改用 last、mean 等汇总方式，或改为派生指标",
    ),
    "KR318": _c(
        "aggregate only for yes/no metrics",
        "aggregate: … 只用于是/否指标",
        "换一种汇总方式，或把 unit 改为 yes_no",
    ),
    "KR319": _c(
        "columns on a non-rating metric",
        "columns（每位评委一列）只用于 unit: rating 的指标",
        "删去 columns，或把 unit 改为 rating",
    ),
    "KR320": _c("Column name is another metric's name", "列名 “…” 已是指标 … 的名称", "换一个列名"),
    "KR321": _c(
        "Column name is another metric's rater column", "列名 “…” 也是指标 … 的评委列", "换一个列名"
    ),
    "KR322": _c("Duplicate column name", "列名 “…” 重复", "删去重复的列名"),
    "KR323": _c(
        "Entity column name clashes with a metric column",
        "编号列名 “…” 与指标 … 的列名相同",
        "换一个编号列名",
    ),
    "KR324": _c(
        "Previous-period metric with a formula",
        "上一期的值由数据汇总得到，不能同时写 formula",
        "删去 formula",
    ),
    "KR325": _c(
        "previous_of names an undeclared metric",
        "previous_of 引用的指标 “…” 没有在 metrics 中声明",
        "先在 metrics 中声明该指标",
    ),
    "KR326": _c(
        "previous_of names a derived metric",
        "“…” 是派生指标：previous_of 只能引用输入指标",
        "改为引用输入指标",
    ),
    "KR327": _c(
        "previous_of metric of another unit",
        "“…” 与 “…” 的单位不同，无法作为上一期的值",
        "引用单位相同的指标",
    ),
    "KR328": _c(
        "Unit word not recognised",
        "单位 “…” 无法识别",
        "写一个单位词，如 次、件、元、万元、小时、工作日",
    ),
    "KR329": _c("Unit word where none is needed", "… 指标不需要 in（单位）", "删去 in"),
    "KR330": _c("Value unit does not fit the metric", "数值的单位与指标不符", "改用指标的单位书写"),
    "KR331": _c(
        "Derived metrics form a cycle", "派生指标相互引用，形成循环：…", "改写公式，去掉相互引用"
    ),
    "KR332": _c("Value cannot be read as a quantity", "无法读取数值", "写成数值，可带单位或 % 号"),
    "KR333": _c("Percent without % sign", "百分比要写 % 号：… 会被当作 …", "写上 % 号，如 95%"),
    "KR334": _c(
        "Unit conversion is not exact",
        "… 换算为 … 时除不尽",
        "换一个能整除的单位，或直接用指标的单位书写",
    ),
    "KR335": _c("Formula error", "公式错误", "按提示改写公式"),
    "KR336": _c(
        "Undefined name in a formula",
        "…中的名字 “…” 没有定义",
        "检查拼写，只用 metrics 中声明的指标",
    ),
    "KR337": _c("Weight cannot be read", "权重无法读取", "把权重写成数值或百分数"),
    "KR338": _c(
        "Weight must be a percent",
        "权重按百分比计（weighting: …），应写成百分数",
        "把权重写成百分数，如 30%",
    ),
    "KR339": _c(
        "Weight must not be a percent",
        "权重按…计（weighting: …），不能写百分数 …",
        "去掉 % 号，写成分值或份额",
    ),
    "KR340": _c("Weight with a unit", "权重不能带单位 “…”", "去掉权重后的单位"),
    "KR341": _c("Negative weight", "权重不能为负数", "把权重改为不小于 0"),
    "KR342": _c("Category without weight", "类别 “…” 缺少权重 weight", "给类别写 weight"),
    "KR343": _c(
        "Category without indicators", "类别 “…” 下没有指标", "给类别写 indicators，或删去该类别"
    ),
    "KR344": _c("Weights do not add up", "权重合计不符", "调整各项权重，使合计符合要求"),
    "KR345": _c("Indicator without weight", "指标 “…” 缺少权重 weight", "给指标写 weight"),
    "KR346": _c("Weight where none is allowed", "不能有权重", "删去 weight"),
    "KR347": _c(
        "Indicator uses an undeclared metric",
        "指标 “…” 使用的 metric “…” 没有在 metrics 中声明",
        "先在 metrics 中声明，或改正 metric 的拼写",
    ),
    "KR348": _c(
        "Yes/no target not yes or no",
        "是/否指标 “…” 的目标应写 是 或 否，而不是 “…”",
        "目标写 是 或 否",
    ),
    "KR349": _c("Target cannot be read", "无法读取目标", "按 ≥ 95%、≤ 3 次 这样的写法改写目标"),
    "KR350": _c(
        "Direction unknown",
        "指标 “…” 要写 direction（higher_better / lower_better），或写带比较符号的 target",
        "写 direction，或写带比较符号的 target",
    ),
    "KR351": _c(
        "Scoring method needs a target", "指标 “…” 的计分方法 … 需要目标 target", "给指标写 target"
    ),
    "KR352": _c(
        "Equal-target direction with a directional method",
        "目标 “…” 使方向成为“等于目标值”（equal），而计分方法 … 要求越高越好或越低越好",
        "改写目标的比较符号，或换计分方法",
    ),
    "KR353": _c(
        "Target does not fit the metric's unit",
        "指标 “…” 是…，目标不能写 “…”",
        "按指标的单位写目标",
    ),
    "KR354": _c(
        "Target outside the metric's range",
        "目标 … 超出指标 “…” 的取值范围（… 到 …）",
        "把目标改到取值范围内",
    ),
    "KR355": _c(
        "Direction contradicts the target",
        "指标 “…” 的方向是…（…），但目标写的是 …：两者矛盾",
        "统一 direction 与目标的比较符号",
    ),
    "KR356": _c(
        "Parameter does not apply to the method",
        "参数不适用于该计分方法",
        "删去该参数，或换用提示中的计分方法",
    ),
    "KR357": _c(
        "Score outside the indicator's points",
        "得分 … 超出该指标的分值范围 0 到 …",
        "把得分改到 0 与分值之间",
    ),
    "KR358": _c("Negative floor", "最低得分 floor 不能为负数", "把 floor 改为不小于 0"),
    "KR359": _c(
        "Floor above the indicator's points",
        "最低得分 … 高于该指标的分值 …",
        "把 floor 改为不高于分值",
    ),
    "KR360": _c(
        "Method not usable for a yes/no metric",
        "是/否指标 “…” 只能用 pass_fail、monitor 或 formula 计分",
        "改用 pass_fail、monitor 或 formula",
    ),
    "KR361": _c(
        "Method needs a higher/lower direction",
        "计分方法 … 要求方向为 higher_better 或 lower_better",
        "写 direction: higher_better 或 lower_better",
    ),
    "KR362": _c(
        "Proportional scoring needs a positive target",
        "按比例计分（实际/目标）要求目标大于 0",
        "把目标改为大于 0",
    ),
    "KR363": _c(
        "per_occurrence needs a count metric",
        "按次扣分（per_occurrence）要求计数指标，而 “…” 是…",
        "换用计数指标，或换计分方法",
    ),
    "KR364": _c(
        "scale needs the metric's min and max",
        "折算计分（scale）要求指标 “…” 写明 min 和 max",
        "给指标写 min 和 max",
    ),
    "KR365": _c("per must be positive", "per（每多少扣分）必须大于 0", "把 per 改为大于 0"),
    "KR366": _c("Rank scores not decreasing", "名次越靠后得分应越低", "让名次越靠后得分越低"),
    "KR367": _c(
        "Base metric undeclared",
        "基期指标 “…” 没有在 metrics 中声明",
        "先在 metrics 中声明基期指标",
    ),
    "KR368": _c(
        "Base metric of another unit",
        "基期指标 “…” 的单位与 “…” 不同，无法比较",
        "改用单位相同的基期指标",
    ),
    "KR369": _c(
        "Absolute change target written as percent",
        "按绝对变化比较时，目标应写成指标本身的单位，不能写百分数；按相对变化（提升 5%）请写 compare: relative",
        "用指标本身的单位写目标，或写 compare: relative",
    ),
    "KR370": _c("Segment starts after it ends", "区间起点 … 应小于终点 …", "让区间起点小于终点"),
    "KR371": _c(
        "Segments out of order or overlapping",
        "区间应从低到高排列且不重叠",
        "按从低到高排列区间，且不重叠",
    ),
    "KR372": _c(
        "Gap between segments",
        "区间之间有空档：上一区间到 … 结束，本区间从 … 开始",
        "让相邻区间首尾相接",
    ),
    "KR373": _c("Both below and to", "below（不含）和 to（含）只能写一个", "below 和 to 只写一个"),
    "KR374": _c(
        "Both from and over", "from（含）和 over（不含）只能写一个", "from 和 over 只写一个"
    ),
    "KR375": _c("Band lower bound not below upper", "下限 … 应小于上限 …", "让下限小于上限"),
    "KR376": _c(
        "Bands leave low values uncovered", "分档没有覆盖最低的值", "把最低一档的下限延伸到取值下限"
    ),
    "KR377": _c("Bands overlap", "两档重叠", "调整分档边界，使每个值只落在一档"),
    "KR378": _c("Gap between bands", "相邻两档之间有空档", "调整分档边界，使相邻两档首尾相接"),
    "KR379": _c(
        "Bands leave high values uncovered",
        "分档没有覆盖最高的值",
        "把最高一档的上限延伸到取值上限",
    ),
    "KR380": _c("Duplicate grade", "等级 “…” 重复（第 … 行已有）", "删去重复的等级"),
    "KR381": _c(
        "cap without effect cap_total",
        "cap 只用于 effect: cap_total",
        "删去 cap，或改用 effect: cap_total",
    ),
    "KR382": _c(
        "grade without effect cap_grade",
        "grade 只用于 effect: cap_grade",
        "删去 grade，或改用 effect: cap_grade",
    ),
    "KR383": _c(
        "Cap outside the total points", "封顶分 … 应在 0 到 … 之间", "把封顶分改到 0 与总分之间"
    ),
    "KR384": _c("Grade not defined", "等级 “…” 没有在 grades 中定义", "使用 grades 中定义的等级"),
    "KR385": _c("Grade cap without grades", "按等级封顶需要先定义 grades", "先定义 grades"),
    "KR386": _c(
        "Settlement without amount",
        "结算（settlement）类结果规则要写 amount",
        "给结算类结果规则写 amount",
    ),
    "KR387": _c(
        "Amount on a rule that pays nothing",
        "只有 reward、penalty、settlement 类结果规则可以写金额 amount（这里是 …）",
        "删去 amount，或把类型改为 reward、penalty、settlement",
    ),
    "KR388": _c(
        "Amount rounded twice",
        "金额按 money 的规定只取舍一次（… 位小数，…）",
        "从公式中删去 round_half_up，由 money 的规定取舍",
    ),
    "KR389": _c(
        "Amount formula mixes units",
        "金额公式用到的 “…”（…）以 … 计，而金额的单位是 …",
        "换算成与金额相同的单位",
    ),
    "KR390": _c(
        "Improvement step not above 0",
        "step（每改善多少）必须大于 0，而这里是 …",
        "写改善幅度的计分单位，如 1%（一个百分点）或 1（件、次）",
    ),
    "KR391": _c(
        "Floor above the improvement cap",
        "未改善时的得分 floor（…分）高于改善得分的上限（…分）",
        "调低 floor，或调高 cap",
    ),
    # KR4xx: test cases
    "KR401": _c(
        "Test case name clashes with the ruleset's",
        "测试用例名 “…” 与规则集中第 … 行的用例重名（第 … 行）",
        "给测试文件中的用例改名",
    ),
    "KR402": _c(
        "Duplicate test case name", "测试用例名 “…” 重复（第 … 行已使用）", "给其中一个用例改名"
    ),
    "KR403": _c(
        "Test case base not found",
        "base 引用的测试用例 “…” 不存在或不在本用例之前",
        "base 只引用写在本用例之前的用例",
    ),
    "KR404": _c("Test case missing inputs", "测试用例缺少输入", "补上缺少的输入，或预期报错"),
    "KR405": _c(
        "Test case uses an undeclared metric",
        "测试用例中的指标 “…” 没有在 metrics 中声明",
        "改正指标名，或先在 metrics 中声明",
    ),
    "KR406": _c(
        "Test case gives a derived metric",
        "“…” 是派生指标，由公式计算，不能直接给值",
        "删去派生指标的值，由公式计算",
    ),
    "KR407": _c("Test case value cannot be read", "测试用例中的值无法读取", "按指标的单位写值"),
    "KR408": _c(
        "Test case expects an unknown item", "测试用例预期的项目不存在", "改正预期中的名字"
    ),
    "KR409": _c(
        "Expected score outside the points",
        "预期得分 … 超出指标的分值范围 0 到 …",
        "把预期得分改到分值范围内",
    ),
    "KR410": _c(
        "Expected amount for a rule without amount",
        "结果规则 “…” 没有金额公式（amount），不能在 amounts 中预期金额",
        "给结果规则写 amount，或从 amounts 删去",
    ),
    "KR411": _c(
        "Test case expects an undefined grade",
        "等级 “…” 没有在 grades 中定义",
        "使用 grades 中定义的等级",
    ),
    "KR412": _c(
        "Tests file names no ruleset",
        "测试文件没有写明规则集",
        "在测试文件中写 ruleset: 规则集文件名",
    ),
    "KR413": _c(
        "Tested ruleset not found",
        "找不到被测试的规则集文件",
        "检查 ruleset 中的文件名（相对测试文件所在目录）",
    ),
    "KR414": _c(
        "Tested ruleset is invalid", "被测试的规则集无效", "先用 kpirules validate 改正规则集"
    ),
    "KR415": _c(
        "Tests file sent to the ruleset check",
        "这里只检查规则集",
        "在命令行用 kpirules test 运行测试文件",
    ),
    "KR416": _c(
        "Test expectations not checked",
        "规则集有错误，测试用例的预期得分未检查",
        "先改正规则集中的错误，再检查测试用例",
    ),
    # KR5xx: metrics files (CSV, XLSX, YAML, JSON, rows sent to the service)
    "KR501": _c(
        "Rows by period need a period",
        "数据按期间分行（有 period 列）：要指定计分的期间",
        "加 --period，如 --period 2026",
    ),
    "KR502": _c("Metrics file cannot be read", "无法读取文件", "检查文件路径和访问权限"),
    "KR503": _c("Metrics file too large", "文件过大", "拆分数据文件"),
    "KR504": _c(
        "Old .xls workbook",
        "这是旧版 Excel 文件（.xls），无法读取",
        "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”",
    ),
    "KR505": _c(
        "Unknown file type", "无法识别的文件类型", "改用 .xlsx、.csv、.yaml、.yml 或 .json 文件"
    ),
    "KR506": _c("Duplicate name in an entity list", "对象名单中有重复", "删去重复的一行"),
    "KR507": _c("Empty entity list", "对象名单是空的", "每行写一个对象"),
    "KR508": _c("Line not in the file's encoding", "某行不是指定的编码", "整个文件要用同一种编码"),
    "KR509": _c(
        "File cannot be read in the given encoding",
        "无法按指定编码读取",
        "改用正确的 --encoding，或另存为 UTF-8",
    ),
    "KR510": _c("CSV file is UTF-16", "文件是 UTF-16 编码", "另存为 UTF-8，或用 --encoding utf-16"),
    "KR511": _c(
        "Line neither UTF-8 nor GBK",
        "某行既不是 UTF-8 也不是 GBK 编码",
        "用 --encoding 指定编码，或另存为 UTF-8",
    ),
    "KR512": _c(
        "Mixed encodings", "文件中混用了两种编码", "重新输入这一行，或把文件统一另存为一种编码"
    ),
    "KR513": _c("Several entity columns", "表头中有多个编号列", "把其中一列改名或删除"),
    "KR514": _c("No entity column", "缺少编号列", "表头加一列 科室、部门、单位、姓名、对象或编号"),
    "KR515": _c(
        "Unit in a column name differs from the metric's",
        "列名中的单位与指标的单位不同",
        "列名写成指标名，数值按指标的单位填写",
    ),
    "KR516": _c("Two columns for one metric", "两列是同一个指标", "删去其中一列"),
    "KR517": _c("Column for a derived metric", "派生指标不能直接给值", "删除这一列"),
    "KR518": _c("Column names no metric of the ruleset", "规则集中没有这个指标", "按提示改正列名"),
    "KR519": _c(
        "Rater column beside the metric's own column",
        "评委列与指标列重复",
        "评分要么一格写全，要么每位评委一列",
    ),
    "KR520": _c(
        "Data seems to belong to another ruleset",
        "大部分列不是规则集的指标",
        "检查是否选错了规则集或数据文件",
    ),
    "KR521": _c(
        "Rater column names no rating metric",
        "评委列没有说明是哪个评分指标",
        "列名写成 评分指标名 加 评委编号",
    ),
    "KR522": _c("Metrics file is empty", "数据文件为空", "检查是否选错了文件"),
    "KR523": _c("Hidden character in a column name", "列名含有不可见字符", "删除该字符"),
    "KR524": _c("No data rows", "文件中没有数据行", "在表头下填写数据"),
    "KR525": _c(
        "Data without a column name", "这一列没有列名，却有数据", "给这一列写上列名，或删除它"
    ),
    "KR526": _c(
        "Wrong number of cells in a row", "这一行的列数与表头不同", "检查是否多了或少了逗号"
    ),
    "KR527": _c("Hidden character in a cell", "单元格含有不可见字符", "删除该字符"),
    "KR528": _c("Entity cell cannot be read", "编号单元格无法读取", "把编号写成文字"),
    "KR529": _c("Entity cell is merged", "编号单元格属于合并区域", "取消合并，并在每一行填写编号"),
    "KR530": _c("Entity is empty", "编号为空", "在每一行填写编号"),
    "KR531": _c("Entity name not allowed", "编号写法不合规", "按提示改写编号"),
    "KR532": _c("Row repeated", "编号重复", "删去或合并重复的行"),
    "KR533": _c(
        "Several scores in a rater cell", "评委列每格只填一位评委的一个评分", "每格只填一个评分"
    ),
    "KR534": _c("Value cannot be read", "数值无法读取", "按指标的单位填写数值"),
    "KR535": _c("NUL character in the file", "文件含有空字符（NUL）", "确认这是文本文件"),
    "KR536": _c("CSV format error", "CSV 格式错误", "检查引号是否成对"),
    "KR537": _c("Row is not a mapping", "每一行应是映射", "写成 entity: 编号，以及各指标的值"),
    "KR538": _c("Several entity keys in a row", "一行有多个编号", "只写一个编号"),
    "KR539": _c(
        "File is neither a list nor a mapping",
        "文件结构不对",
        "写成各对象的列表，或 编号: {指标: 值} 的映射",
    ),
    "KR540": _c("Row without entity", "缺少编号", "每一行写 entity"),
    "KR541": _c("Duplicate entity", "编号重复", "删去或合并重复的对象"),
    "KR542": _c("Metrics not a mapping", "指标应写成映射", "写成 指标: 值"),
    "KR543": _c(
        "Unknown metric in data", "规则集中没有这个指标", "按提示改正指标名；派生指标不需要给值"
    ),
    "KR544": _c("Entity repeated in the request", "对象重复", "每个对象只写一行"),
    "KR545": _c(
        "Workbook is encrypted",
        "工作簿设有打开密码",
        "在 Excel 中取消密码，另存为“Excel 工作簿（*.xlsx）”",
    ),
    "KR546": _c(
        "Not a valid workbook",
        "不是有效的 Excel 工作簿",
        "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”",
    ),
    "KR547": _c(
        "Workbook cannot be read",
        "无法读取 Excel 工作簿",
        "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”",
    ),
    "KR548": _c(
        "Sheet cannot be read", "无法读取工作表", "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”"
    ),
    "KR549": _c("Workbook without sheets", "工作簿中没有工作表", "检查是否选错了文件"),
    "KR550": _c(
        "Line readable as UTF-8 and as GBK",
        "某行按 UTF-8 和按 GBK 都能读，编码无法确定",
        "用 --encoding gbk 或 --encoding utf-8 指明文件的编码",
    ),
    # KR6xx: scoring
    "KR601": _c("Entity id is not text", "编号不是文字", "把编号写成文字（str）"),
    "KR602": _c("Entity id not allowed", "编号写法不合规", "按提示改写编号"),
    "KR603": _c(
        "Metric name not usable", "指标名不是文字或含不可见字符", "指标名写成文字，删去不可见字符"
    ),
    "KR604": _c("Unknown metric", "规则集中没有这个指标", "按提示改正指标名"),
    "KR605": _c("Value given for a derived metric", "派生指标不能直接给值", "删去该值，由公式计算"),
    "KR606": _c(
        "Binary float refused", "不接受二进制浮点数", '传入 Decimal、整数或文字，如 "0.95"'
    ),
    "KR607": _c("Value cannot be read", "数值无法读取", "按指标的单位给值"),
    "KR608": _c(
        "Cohort metric scored alone", "要与同组比较的指标不能单独计分", "用 evaluate_many 一起计分"
    ),
    "KR609": _c("Duplicate entity", "编号重复", "每个对象只给一次数据"),
    "KR610": _c("Missing metric data", "缺少指标的数据", "补上该指标的数据"),
    "KR611": _c(
        "Derived metric cannot be computed",
        "派生指标无法计算",
        "检查公式用到的数据，如除数是否为 0",
    ),
    "KR612": _c("Derived metric out of range", "派生指标的计算结果超出取值范围", "检查输入数据"),
    "KR613": _c("Result too large", "计算结果超出可表示的范围", "检查输入数据的数量级"),
    "KR614": _c(
        "Required data missing", "缺少规定必须有的数据", "补上数据，或在规则集中改写 missing"
    ),
    "KR615": _c("Scoring formula failed", "计分公式无法计算", "检查公式用到的数据，如除数是否为 0"),
    "KR616": _c("Baseline data missing", "缺少基期指标的数据", "补上基期指标的数据"),
    "KR617": _c("Category has no data", "类别的指标全部缺少数据", "至少给该类别的一个指标数据"),
    "KR618": _c("Formula uses missing data", "公式用到的指标缺少数据", "补上这些指标的数据"),
    "KR619": _c("Rule formula failed", "规则公式无法计算", "检查公式用到的数据，如除数是否为 0"),
    "KR620": _c("Amount too large", "金额过大", "检查金额公式和输入数据"),
    "KR621": _c(
        "Row could not be scored (internal error)",
        "这一行计分时程序出错",
        "用 --jobs 1 重试，并报告这一行",
    ),
    "KR622": _c(
        "Scoring process ended", "计分进程意外退出", "检查内存是否够用，或用 --jobs 1 重试"
    ),
    # KR7xx: the audit ledger (official batches)
    "KR701": _c("No such batch", "记录中没有这一批", "用 kpirules history 查看批次号"),
    "KR702": _c(
        "Batch has no period",
        "这一批计分时没有给期间",
        "加 --period 重新计分并记入，再标记新的批次",
    ),
    "KR703": _c("Batch of another period", "这一批属于另一个期间", "检查批次号或 --period"),
    "KR704": _c("Batch already official", "这一批已是正式批次", "不需要再标记"),
    "KR705": _c(
        "Period already has an official batch",
        "该期间已有正式批次",
        "确要改用这一批时加 --replace 并用 --note 写明原因",
    ),
    "KR706": _c("Replacing without a reason", "改用另一批时没有写原因", "用 --note 写明原因"),
}


def info(code: str) -> CodeInfo:
    """The registry entry of ``code`` (``KeyError`` for an unknown code)."""
    return CODES[code]
