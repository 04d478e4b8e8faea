"""Where a problem is, in the words of the ruleset: ``$.categories[1].weight`` as
``类别“医保业务管理” › 权重``.

Categories, indicators and rules are named by their ``label`` (or ``id``), keys by their
Chinese names from the ruleset guide's glossary (docs/zh/ruleset-guide.md, section 十五).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Each key's Chinese name, as in the glossary (the text before its first "；").
KEY_NAMES: Mapping[str, str] = {
    "above": "高于区间上限时得分",
    "add": "每满一个单位加几分",
    "adjustments": "加减分",
    "aggregate": "多期汇总方式",
    "amount": "金额（奖惩数目）",
    "amounts": "预期金额",
    "at": "取舍的步骤",
    "base": "基于哪个用例",
    "baseline": "基期数据",
    "below": "低于（不含）",
    "cap": "上限",
    "categories": "考核类别",
    "cohort": "同组对象",
    "columns": "每位考核人一列的列名",
    "combine": "多人评分合并方式",
    "compare": "比较方式（相对/绝对）",
    "cycle": "考核周期",
    "data": "数据文件的格式",
    "deduct": "扣几分",
    "description": "说明",
    "direction": "方向（越高越好等）",
    "effect": "否决效果",
    "entity_column": "对象那一列的列名",
    "error": "预期的错误提示",
    "expect": "预期结果",
    "extends": "继承的基础规则集文件",
    "floor": "最低得分",
    "formula": "公式",
    "fragment": "片段种类（本文件只写这一节）",
    "from": "从（含）",
    "grade": "等级名称",
    "grades": "等级",
    "id": "简称",
    "in": "计量单位",
    "in_force": "施行期间",
    "include": "引入的片段文件",
    "indicators": "指标",
    "kind": "种类",
    "kpirules": "格式版本",
    "kpirules_tests": "测试文件格式版本",
    "label": "名称",
    "max": "上限（范围）",
    "max_bonus": "加分合计上限",
    "max_penalty": "减分合计上限",
    "method": "计分方法",
    "metric": "考核的数据",
    "metrics": "考核数据",
    "min": "下限（范围）",
    "min_raters": "最少评分人数",
    "missing": "缺数据怎么办",
    "mode": "取舍方式",
    "money": "金额的单位与取舍",
    "name": "用例名称",
    "otherwise": "未达标（或其余名次）得几分",
    "outcomes": "奖惩结果",
    "over": "超过（不含）",
    "partial": "不足一个单位怎么算",
    "per": "每多少算一个单位",
    "places": "保留几位小数",
    "points": "分数",
    "points_by_rank": "各名次得分",
    "previous_of": "上一期的哪项数据",
    "rank": "预期名次",
    "ratings": "多人评分",
    "raw_total": "原始总分",
    "remove": "去掉继承来的条目",
    "replace": "替换继承来的条目（条目中写 true）或设置（顶层列出）",
    "rounding": "取舍",
    "rows": "各档",
    "rules": "加减分规则",
    "ruleset": "对应的规则集文件",
    "scores": "预期各项得分",
    "scoring": "计分方法",
    "segments": "区间",
    "show": "结果中列出的数据",
    "source": "出处",
    "step": "改善多少算一个单位",
    "step_points": "每改善一个单位得几分",
    "subtotals": "预期类别小计",
    "target": "目标",
    "tests": "测试用例",
    "title": "方案名称",
    "to": "到（含）",
    "total": "总分",
    "total_points": "满分",
    "unit": "数据种类",
    "version": "版本号",
    "vetoes": "一票否决",
    "weight": "权重",
    "weighting": "权重的理解方式",
    "when": "条件",
}

#: Lists whose items are named things: what one item is called.
_ITEMS = {
    "categories": "类别",
    "indicators": "指标",
    "vetoes": "一票否决",
    "outcomes": "奖惩结果",
    "rules": "加减分规则",
    "grades": "等级",
    "tests": "测试用例",
    "segments": "区间",
    "rows": "档",
}
_NAME_FIELDS = ("label", "name", "grade", "id")
SEPARATOR = " › "


def _name_of(item: Any) -> str | None:
    if isinstance(item, Mapping):
        for key in _NAME_FIELDS:
            value = item.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return None


def place(data: Any, path: Sequence[str | int]) -> str:
    """The labels of what ``path`` points at in ``data``, joined by " › " ("" for the root).

    ``data`` is the loaded document (or None when it could not be built): without it,
    items are named by their position.
    """
    parts: list[str] = []
    node: Any = data
    i = 0
    while i < len(path):
        key = path[i]
        nxt = path[i + 1] if i + 1 < len(path) else None
        child = node.get(key) if isinstance(node, Mapping) and isinstance(key, str) else None
        if isinstance(key, str) and key in _ITEMS and isinstance(nxt, int):
            item = child[nxt] if isinstance(child, list) and 0 <= nxt < len(child) else None
            name = _name_of(item)
            what = _ITEMS[key]
            parts.append(f"{what}“{name}”" if name else f"第 {nxt + 1} 个{what}")
            node, i = item, i + 2
            continue
        if isinstance(key, int):
            parts.append(f"第 {key + 1} 项")
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
        elif i > 0 and path[i - 1] == "metrics":
            known = data.get("metrics") if isinstance(data, Mapping) else None
            declared = known.get(key) if isinstance(known, Mapping) else None
            parts[-1:] = [f"数据“{_name_of(declared) or key}”"]
            node = child
        elif i == 0 and key == "base":
            parts.append("基础规则集标记（base）")
            node = child
        else:
            parts.append(KEY_NAMES.get(key) or f"“{key}”")
            node = child
        i += 1
    return SEPARATOR.join(parts)
