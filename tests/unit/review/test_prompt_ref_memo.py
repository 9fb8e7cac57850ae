"""The pinned-reference memo of ``cfgc check`` answers as the library does,
for references that exist, do not, are not pinned or are too long to keep,
and stays within its bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from cfgc.review import llm_prompts
from cfgc.review.llm_prompts import prompt_ref_findings
from tests.fixtures.repos import STANDARD_CONFIG

REFS = ["chat@1.0.0", "chat@2.0.0", "chat@1.0", "nope@1.0.0", "chat@1.0.0-rc.1", "plain text",
        "chat@1.0.0" + "x" * 300, "chat@01.0.0"]


def _targets(make_repo: Any) -> tuple[Compiler, list[Any]]:
    services = {f"tenants/acme/prod/s{i}.yaml": f"prompts:\n  a: {ref!r}\n  b: chat@1.0.0\n"
                for i, ref in enumerate(REFS)}
    root: Path = make_repo({"base/a.yaml": "{}\n", "envs/prod.yaml": "{}\n", "tenants/acme/tenant.yaml": "{}\n",
                            "prompts/chat/1.0.0.j2": "Hello\n", **services},
                           config=STANDARD_CONFIG + "prompts: prompts/\n")
    compiler = Compiler(DirSource(root))
    return compiler, [compiler.compile(s) for s in compiler.specs()]


def test_the_memo_gives_the_findings_each_target_gives_alone(make_repo: Any) -> None:
    compiler, targets = _targets(make_repo)
    memo: dict[str, bool] = {}
    alone = [prompt_ref_findings(t, compiler.prompts) for t in targets]
    for _ in range(2):  # the second pass answers from the memo
        assert [prompt_ref_findings(t, compiler.prompts, memo) for t in targets] == alone
    assert 0 < sum(map(len, alone)) < len(REFS)  # some exist, some do not
    assert all(len(ref) <= llm_prompts.MAX_REMEMBERED_REF_CHARS for ref in memo)


def test_a_full_memo_is_emptied_not_grown(make_repo: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(llm_prompts, "MAX_REMEMBERED_REFS", 2)
    compiler, targets = _targets(make_repo)
    memo: dict[str, bool] = {}
    alone = [prompt_ref_findings(t, compiler.prompts) for t in targets]
    assert [prompt_ref_findings(t, compiler.prompts, memo) for t in targets] == alone
    assert len(memo) <= 2
