"""Formulas and conditions: parsed once, checked against an allow-list of syntax.

A formula is a Python-like arithmetic expression over declared names::

    差错件数 / 审核件数
    max(0, 10 - (rate - 2%) * 100)
    total >= 90 and 基金损失 <= 5万元

Policy staff may type ``×``, ``÷``, ``≤``, ``≥``, ``≠`` and full-width brackets; they are read
as the ASCII operators. A number followed by ``%`` is a percentage (``2%`` is 0.02). Nothing
else of Python is reachable: no attributes, subscripts, strings, lambdas, comprehensions,
assignments or calls other than the functions listed in :data:`FUNCTIONS`.
"""

from __future__ import annotations

import ast
import re

import attrs

MAX_LENGTH = 1000
MAX_NODES = 300
MAX_POWER = 4

#: Functions a formula may call, with the number of arguments each accepts.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "abs": (1, 1),
    "clamp": (3, 3),
    "round_half_up": (2, 2),
}

_TRANSLATE = str.maketrans(
    {
        "×": "*",
        "÷": "/",
        "（": "(",
        "）": ")",
        "，": ",",
        "－": "-",
        "＋": "+",
        "＊": "*",
        "／": "/",
        "＜": "<",
        "＞": ">",
        "＝": "=",
    }
)
_MULTI = (("≤", "<="), ("≦", "<="), ("≥", ">="), ("≧", ">="), ("≠", "!="), ("万元", "*10000"))
_DECIMAL_LITERAL = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,2})?")
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*[%％]")

#: Words a yes/no metric may be compared with: ``重大差错 == 是`` means ``重大差错``.
YES_NO_WORDS = {"是": True, "有": True, "否": False, "无": False}
_NAME = r"[^\W\d]\w*"
_WORD = "|".join(YES_NO_WORDS)
# A name compared with a yes/no word (either way round), standing alone between the
# start, a bracket or and/or/not and the end, a bracket or and/or: never inside arithmetic.
_BEFORE = r"(^|\(|(?<!\w)(?:and|or|not)(?=\s))(\s*)"
_AFTER = r"(?=\s*(?:$|\)|(?:and|or|if|else)(?!\w)))"
_YES_NO_LEFT = re.compile(rf"{_BEFORE}({_NAME})\s*(==|!=)\s*({_WORD}){_AFTER}")
_YES_NO_RIGHT = re.compile(rf"{_BEFORE}({_WORD})\s*(==|!=)\s*({_NAME}){_AFTER}")


def _yes_no(source: str) -> tuple[str, frozenset[str]]:
    """``x == 是`` as ``(x)``, ``x == 否`` / ``x != 是`` as ``(not x)``; the names so compared."""
    compared: set[str] = set()

    def rewrite(before: str, name: str, op: str, word: str) -> str:
        compared.add(name)
        meant = YES_NO_WORDS[word] == (op == "==")
        return f"{before}({name})" if meant else f"{before}(not {name})"

    source = _YES_NO_LEFT.sub(lambda m: rewrite(m[1] + m[2], m[3], m[4], m[5]), source)
    source = _YES_NO_RIGHT.sub(lambda m: rewrite(m[1] + m[2], m[5], m[4], m[3]), source)
    return source, frozenset(compared - set(YES_NO_WORDS))


_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.UAdd, ast.USub, ast.Not)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.And,
    ast.Or,
    *_BINOPS,
    *_UNARY,
    *_COMPARE,
)

_FORBIDDEN_WORDS: dict[type, str] = {
    ast.Attribute: "不能使用属性访问（“.”后跟名字）",
    ast.Subscript: "不能使用下标（[ ]）",
    ast.Lambda: "不能使用 lambda",
    ast.ListComp: "不能使用推导式",
    ast.SetComp: "不能使用推导式",
    ast.DictComp: "不能使用推导式",
    ast.GeneratorExp: "不能使用推导式",
    ast.NamedExpr: "不能赋值",
    ast.List: "不能使用列表",
    ast.Tuple: "不能使用元组",
    ast.Dict: "不能使用字典",
    ast.Set: "不能使用集合",
    ast.JoinedStr: "不能使用文字",
    ast.Starred: "不能使用 *参数",
    ast.Await: "不能使用 await",
    ast.Yield: "不能使用 yield",
}


class FormulaError(ValueError):
    """A formula is not acceptable; the message says why in words policy staff can act on."""


@attrs.frozen
class Formula:
    """A checked formula: the text as written, the normalised source and the names it uses."""

    text: str
    source: str
    names: frozenset[str]
    is_condition: bool
    #: Names compared with 是/否 (有/无): they must be yes/no metrics.
    yes_no_names: frozenset[str] = frozenset()


def normalise(text: str) -> str:
    """Map full-width and mathematical symbols to ASCII operators and ``2%`` to ``2e-2``."""
    out = text.translate(_TRANSLATE)
    for old, new in _MULTI:
        out = out.replace(old, new)
    return _PERCENT.sub(lambda m: f"({m.group(1)}/100)", out)


def parse_formula(text: object, *, condition: bool = False) -> Formula:
    """Parse and check a formula; raise :class:`FormulaError` with a readable reason.

    Args:
        text: the formula as written in the ruleset. A bare number is accepted.
        condition: whether the formula is a yes/no condition (``when:``) rather than a number.
    """
    if isinstance(text, bool):
        raise FormulaError("这里要写公式或条件，而不是 true/false")
    if not isinstance(text, str):
        text = str(text)
    if not text.strip():
        raise FormulaError("公式为空")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"公式过长（{len(text)} 个字符，上限 {MAX_LENGTH}）")
    source = normalise(text.strip())
    if "\n" in source or ";" in source:
        raise FormulaError("公式只能是一个表达式：不能包含分号或多条语句")
    source, yes_no_names = _yes_no(source) if condition else (source, frozenset[str]())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        where = f"第 {exc.offset} 个字符附近" if exc.offset else ""
        if re.search(r"(?<![<>=!])=(?!=)", source):
            raise FormulaError(
                f"公式语法错误{where}：不能赋值；比较是否相等请写 ==（如 a == 1）"
            ) from None
        raise FormulaError(f"公式语法错误{where}：检查括号是否成对、运算符是否完整") from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("公式嵌套过深，无法解析") from None
    names = _check(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
            written = ast.get_source_segment(source, node) or ""
            if not _DECIMAL_LITERAL.fullmatch(written):
                raise FormulaError(f"数值 “{written}” 的写法不对：只能写十进制数，如 12、0.5、2%")
    kind = _kind(tree.body)
    if not condition and kind == "bool":
        raise FormulaError("公式的结果应是数值，而这里是一个条件（比较或 and/or）")
    if condition and kind == "num" and not isinstance(tree.body, ast.Name):
        raise FormulaError(
            "条件应是比较或判断（如 total >= 90、基金损失 > 5万元），而这里是一个数值"
        )

    return Formula(
        text=text,
        source=source,
        names=frozenset(names),
        is_condition=condition,
        yes_no_names=yes_no_names,
    )


def _kind(node: ast.AST) -> str:
    """``num`` or ``bool``; arithmetic on a condition is refused (True / True is a float)."""
    if isinstance(node, ast.Constant):
        return "bool" if isinstance(node.value, bool) else "num"
    if isinstance(node, ast.Name | ast.Call):
        if isinstance(node, ast.Call):
            for arg in node.args:
                _need_num(arg, "函数的参数")
        return "num"
    if isinstance(node, ast.BinOp):
        _need_num(node.left, "算术运算")
        _need_num(node.right, "算术运算")
        return "num"
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            _kind(node.operand)
            return "bool"
        _need_num(node.operand, "正负号")
        return "num"
    if isinstance(node, ast.Compare):
        for part in (node.left, *node.comparators):
            _need_num(part, "比较")
        return "bool"
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _kind(value)
        return "bool"
    if isinstance(node, ast.IfExp):
        _kind(node.test)
        body, orelse = _kind(node.body), _kind(node.orelse)
        if body != orelse:
            raise FormulaError("条件表达式 a if 条件 else b 的两个结果应同为数值或同为条件")
        return body
    return "num"


def _need_num(node: ast.AST, where: str) -> None:
    if _kind(node) == "bool":
        raise FormulaError(
            f"{where}中不能使用条件（比较、and/or、not）的结果：请用 a if 条件 else b"
        )


def _check(tree: ast.Expression) -> set[str]:
    names: set[str] = set()
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for count, node in enumerate(ast.walk(tree), start=1):
        if count > MAX_NODES:
            raise FormulaError(f"公式过于复杂（超过 {MAX_NODES} 个语法单元）：请拆成派生指标")
        if not isinstance(node, _ALLOWED):
            reason = next(
                (msg for kind, msg in _FORBIDDEN_WORDS.items() if isinstance(node, kind)),
                f"不允许的写法（{type(node).__name__}）",
            )
            raise FormulaError(f"公式{reason}")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                raise FormulaError(
                    "公式中不能使用文字（字符串）；按等级判断请在结果规则中写 grades: [...]"
                )
            if not isinstance(node.value, int | float) or isinstance(node.value, complex):
                raise FormulaError(f"公式中不能使用 {node.value!r}")
        elif isinstance(node, ast.Call):
            _check_call(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exp = node.right
            if not (
                isinstance(exp, ast.Constant)
                and isinstance(exp.value, int)
                and not isinstance(exp.value, bool)
                and 0 <= exp.value <= MAX_POWER
            ):
                raise FormulaError(f"乘方 ** 的指数只能是 0 到 {MAX_POWER} 的整数常数")
        elif isinstance(node, ast.Name) and id(node) not in callees:
            names.add(node.id)
    return names


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise FormulaError("只能调用内置函数：" + "、".join(FUNCTIONS))
    name = node.func.id
    if name not in FUNCTIONS:
        raise FormulaError(f"不认识的函数 {name}()：可用的函数有 " + "、".join(FUNCTIONS))
    if node.keywords:
        raise FormulaError(f"函数 {name}() 不接受 名字=值 形式的参数")
    low, high = FUNCTIONS[name]
    n = len(node.args)
    if n < low or (high is not None and n > high):
        want = str(low) if low == high else f"至少 {low}"
        raise FormulaError(f"函数 {name}() 需要 {want} 个参数（写了 {n} 个）")
