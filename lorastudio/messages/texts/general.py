"""How any message is put together, in English and Chinese: a problem's line, an error with its
fix, alternatives, and text shown as it was written (a name, a path, a tool's own output)."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    "problem.line": ("{field}{shown}: {message}. Fix: {fix}", "{field}{shown}：{message}。修正：{fix}"),
    "error.with_fix": ("{message}. Fix: {fix}", "{message}。修正：{fix}"),
    "recipe.problems": ("The recipe has {count} problems:", "配方有 {count} 个问题："),
    "recipe.more_problems": ("… and {count} more problems", "……另有 {count} 个问题"),
    "fix.alternatives": ("{first}; or {second}", "{first}；或 {second}"),
    "fix.then": ("{first}; {then}", "{first}；{then}"),
    "recipe.problem_one": ("The recipe has {count} problem:", "配方有 {count} 个问题："),
    "text.verbatim": ("{text}", "{text}"),
    # a value the schema refuses, by pydantic's error type (lorastudio.schema_problems)
    "problem.unknown_key": ("is not a known key", "不是已知的键"),
    "problem.missing": ("is required but missing", "是必填项，但缺失了"),
    "problem.wrong_value": ("has a wrong value", "取值不对"),
    "fix.did_you_mean": ("did you mean `{word}`?", "是不是想写 `{word}`？"),
    "fix.remove_key": ("remove it; allowed keys: {keys}", "请删除它；允许的键：{keys}"),
    "fix.add_it": ("add it — {help}", "请补上 —— {help}"),
    "fix.add_section": ("add it (see a shipped recipe in recipes/)", "请补上（参考 recipes/ 中的内置配方）"),
    "fix.with_help": ("{fix} ({help})", "{fix}（{help}）"),
    "fix.le": ("input should be less than or equal to {le}", "应小于或等于 {le}"),
    "fix.lt": ("input should be less than {lt}", "应小于 {lt}"),
    "fix.ge": ("input should be greater than or equal to {ge}", "应大于或等于 {ge}"),
    "fix.gt": ("input should be greater than {gt}", "应大于 {gt}"),
    "fix.finite": ("input should be a finite number", "应为有限的数（不能是 inf 或 nan）"),
    "fix.integer": ("input should be a valid integer", "应为整数"),
    "fix.number": ("input should be a valid number", "应为数字"),
    "fix.boolean": ("input should be a valid boolean (true or false)", "应为 true 或 false"),
    "fix.string": ("input should be a valid string", "应为文本"),
    "fix.list": ("input should be a valid list", "应为列表"),
    "fix.dict": ("input should be a valid dictionary (a mapping of keys)", "应为键值映射"),
    "fix.choice": ("input should be one of {choices}", "应为以下之一：{choices}"),
    "fix.pattern": ("string should match pattern '{pattern}'", "应匹配格式 '{pattern}'"),
    "fix.min_length": ("string should have at least {min_length} character(s)", "至少需要 {min_length} 个字符"),
    "fix.max_length": ("string should have at most {max_length} characters", "最多 {max_length} 个字符"),
    "fix.min_items": ("list should have at least {min_length} item(s)", "列表至少需要 {min_length} 项"),
    "fix.max_items": ("list should have at most {max_length} items", "列表最多 {max_length} 项"),
    "fix.none": ("input should be empty (null)", "应为空（null）"),
    "fix.schema_other": ("{text}", "取值不符合要求（{text}）"),
}
# fmt: on
