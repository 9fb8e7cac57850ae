"""New versus already-on-the-base findings (cfgc check --base)."""

from __future__ import annotations

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.review.checks import CheckResult, baseline_states


def d(path: str, line: int, msg: str = "too slow", rule: str = "policy.deny", targets: tuple[str, ...] = ("a",),
      severity: str = "error") -> Diagnostic:
    return Diagnostic(severity, msg, Location(path, line, 3), rule, targets)


def test_moved_line_is_unchanged_but_other_rule_path_message_or_target_is_new() -> None:
    base = [d("envs/dev.yaml", 2, targets=("a", "b"))]
    head = [d("envs/dev.yaml", 9, targets=("a",)),                # moved: unchanged
            d("envs/dev.yaml", 9, targets=("a", "c")),           # a new target inherits it: new
            d("envs/prod.yaml", 2),                              # other file: new
            d("envs/dev.yaml", 2, msg="timeout above 60s"),      # other message, same file and rule: new
            d("envs/dev.yaml", 2, rule="policy.warn")]           # other rule: new
    assert baseline_states(head, base) == ("unchanged", "new", "new", "new", "new")


def test_line_numbers_inside_messages_do_not_make_a_finding_new() -> None:
    base = [d("a.yaml", 3, msg="invalid YAML at a.yaml:3:1 (see line 3)", rule="yaml")]
    head = [d("a.yaml", 5, msg="invalid YAML at a.yaml:5:1 (see line 5)", rule="yaml")]
    assert baseline_states(head, base) == ("unchanged",)


def test_only_new_errors_fail_unless_fail_on_existing() -> None:
    diags = (d("x.yaml", 1), d("y.yaml", 1), d("z.yaml", 1, severity="warning"))
    r = CheckResult(diags, ("a",), None, ("unchanged", "new", "new"))
    assert r.failing() == [diags[1]]
    assert r.failing(fail_on_existing=True) == [diags[0], diags[1]]
    old_only = CheckResult(diags[:1], ("a",), None, ("unchanged",))
    assert old_only.failing() == [] and not old_only.ok
    assert CheckResult(diags[:1], ("a",), None).failing() == [diags[0]]  # no base: every error fails


def test_secret_hygiene_errors_fail_even_when_already_on_the_base() -> None:
    leak = d("providers.yaml", 2, msg="plaintext credential", rule="secrets")
    r = CheckResult((leak, d("x.yaml", 1)), ("a",), None, ("unchanged", "unchanged"))
    assert r.failing() == [leak]
