"""Rego policies (``policies/*.rego``, package ``main``), evaluated with regopy.

Policies are written as for conftest, in Rego v1 syntax::

    package main

    deny contains msg if {
        input.vars.env == "prod"
        count(input.config.routing.fallbacks) == 0
        msg := "production needs at least one fallback model"
    }

    warn contains {"msg": "temperature above 0.7", "path": "models.primary.temperature"} if {
        input.config.models.primary.temperature > 0.7
    }

Each target is evaluated with the input ``{"target", "vars", "config",
"changed"}``; ``config`` is the compiled target (secrets as ``{"$secret":
{...}}`` references) and ``changed`` is true/false against ``--base`` or null
without it.  ``deny`` and ``violation`` findings are errors, ``warn`` findings
are warnings.  A rule may yield a string or ``{"msg": ..., "path": "a.b[0]"}``;
with a path the finding points at the file:line:col that set that value,
otherwise at the target's own (last) layer file.

Old v0 syntax (``deny[msg] { ... }``) is refused at its line: regopy would
load it without complaint and silently evaluate it to something else.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.base.secretrefs import jsonable
from cfgc.compile.compiler import CompiledTarget
from cfgc.repo.sources import Source
from cfgc.review.policy_cache import PolicyCache, digest
from cfgc.review.policy_findings import SEVERITY, finding, mask_messages
from cfgc.review.rego_errors import EvalFailed, errormsg, quiet, rego_error, v0_rule
from cfgc.review.rego_inputs import InputUse, analyse
from cfgc.review.rego_projection import Inputs

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.M)


@dataclass(frozen=True)
class PolicyFile:
    """One loaded policy module."""

    path: str
    text: str


class PolicySet:
    """The policies of one repo, checked and loaded into one interpreter."""

    def __init__(self, source: Source, folder: str | None) -> None:
        self.files: list[PolicyFile] = []
        self.errors: list[Diagnostic] = []
        self._interp: Any = None
        self._bundle: Any = None  # the policies compiled once (None: query the interpreter)
        self._runner: Any = None
        self.inputs = Inputs(InputUse(None, False))  # what each target's input is cut down to
        self.digest = ""  # of the loaded policies and the evaluator: results are kept under it
        if not folder:
            return
        prefix = folder.rstrip("/") + "/"
        for path in source.files():
            if path.startswith(prefix) and path.endswith(".rego") and not path.endswith("_test.rego"):
                self.files.append(PolicyFile(path, source.read(path).decode("utf-8", "replace")))
        if self.files:
            self._load()

    def _load(self) -> None:
        from regopy import Interpreter

        good: list[PolicyFile] = []
        for pf in self.files:
            v0 = v0_rule(pf.text)
            pkg = _PACKAGE.search(pf.text)
            if v0 is not None:
                self.errors.append(Diagnostic(
                    "error",
                    f"Rego v0 syntax is not supported: '{v0[1]}'; write v1 rules such as "
                    "'deny contains msg if {' (see 'opa fmt --v1-compatible')",
                    Location(pf.path, v0[0], 1), "policy"))
                continue
            if pkg is not None and pkg.group(1) != "main":
                self.errors.append(Diagnostic(
                    "warning", f"package {pkg.group(1)} is not evaluated: cfgc runs package main",
                    Location(pf.path, pf.text.count("\n", 0, pkg.start()) + 1, 1), "policy"))
                continue
            try:
                with quiet():
                    Interpreter().add_module(pf.path, pf.text)
            except Exception as e:  # noqa: BLE001 - regopy raises RegoError
                self.errors.append(rego_error(pf.path, pf.text, e))
                continue
            good.append(pf)
        if good and not self.errors:
            from regopy import __version__ as regopy_version

            h = hashlib.sha256(f"regopy {regopy_version}\0".encode())
            for pf in good:
                h.update(b"%d:%s\0%d:%s\0" % (len(pf.path), pf.path.encode(), len(pf.text), pf.text.encode()))
            self._interp = Interpreter()
            with quiet():
                for pf in good:
                    self._interp.add_module(pf.path, pf.text)
            self._prepare()
            self.inputs = Inputs(analyse([pf.text for pf in good]))
            h.update(b"bundle" if self._bundle is not None else b"query")
            self.digest = h.hexdigest()

    def _prepare(self) -> None:
        """Compile the policies once, for every input (:meth:`_query`).

        ``query("data.main")`` compiles the modules again for each input; a
        bundle built once and run with ``query_bundle`` gives the same output
        (tests/unit/review/test_policy_bundle.py) for about half the time.
        The interpreter that runs it skips the compiler's well-formedness
        checks of each input term: they check regopy's own passes over JSON
        that ``json.dumps`` wrote, and cost as much as the evaluation.  A
        policy set that does not build (an unknown function, say) keeps the
        per-query path, so it fails exactly as it did.
        """
        from regopy import Interpreter

        try:
            with quiet():
                self._bundle = self._interp.build("data.main")
        except Exception:  # noqa: BLE001 - regopy raises RegoError (or worse): keep the old path
            self._bundle = None
            return
        self._runner = Interpreter()
        self._runner.well_formed_checks_enabled = False

    @property
    def active(self) -> bool:
        """Whether there is anything to evaluate."""
        return self._interp is not None

    def evaluate(self, target: CompiledTarget, changed: bool | None,
                 cache: PolicyCache | None = None) -> list[Diagnostic]:
        """The findings of every policy for one compiled target.

        With ``cache`` the rules' output for this exact input is taken from
        it when there, and recorded in it when not.
        """
        if self._interp is None:
            return []
        doc = {"target": target.name, "vars": target.spec.variables, "config": target.value,
               "changed": changed}
        projected = self.inputs.document(doc)
        # An input already answered in this run first (by its orjson text,
        # then by its text): its answer is the one the cache holds for it (or
        # was put there), and neither its text nor its digest is needed.
        quick = self.inputs.quick_key(projected)
        answer = self.inputs.quick_recall(quick) if quick is not None else None  # (True, rules) or (False, error)
        if answer is None:
            text = json.dumps(projected, default=jsonable)
            answer = self.inputs.recall(text)
            if answer is None:
                key = digest(text.encode()) if cache is not None else ""  # ASCII: json.dumps escapes the rest
                hit = cache.get(key) if cache is not None else None
                if hit is not None:
                    answer = (True, hit[0])
                else:
                    try:
                        answer = (True, self._query(text))
                    except EvalFailed as e:  # not kept across runs: a fixed policy must be evaluated again
                        answer = (False, e.message)
                    if cache is not None and answer[0] and storable(answer[1], projected):
                        cache.put(key, [answer[1]])
                self.inputs.remember(text, answer)
            if quick is not None:
                self.inputs.quick_remember(quick, answer)
        if not answer[0]:
            return [Diagnostic("error", mask_messages([f"Rego evaluation failed: {answer[1]}"], target.value)[0],
                               self._blame(answer[1]), "policy", (target.name,))]
        rules = answer[1]
        if rules is None:
            return []
        found: list[Diagnostic] = []
        for kind, severity in SEVERITY.items():
            items = rules.get(kind) if isinstance(rules, dict) else None
            if items is None:
                continue
            if isinstance(items, dict):
                found.append(Diagnostic("error", f"rule '{kind}' evaluated to an object: is it written "
                                        f"in Rego v0 syntax ('{kind}[msg] {{')?",
                                        Location(self.files[0].path, 1, 1), "policy"))
                continue
            for item in items if isinstance(items, list) else [items]:
                found.append(finding(target, severity, kind, item))
        if found:  # a rule's message may quote any value it read: credentials become markers
            texts = mask_messages([d.message for d in found], target.value)
            found = [replace(d, message=text) for d, text in zip(found, texts, strict=True)]
        return found

    def _blame(self, message: str) -> Location:
        """Where an evaluation error points: the first call of a function
        regopy could not find, else the first policy file (regopy gives no offset)."""
        m = re.fullmatch(r"Function not found: ([\w.]+)", message)
        if m:
            call = re.compile(rf"(?<![\w.]){re.escape(m.group(1))}\s*\(")
            for pf in self.files:
                hit = call.search(pf.text)
                if hit:
                    line = pf.text.count("\n", 0, hit.start()) + 1
                    return Location(pf.path, line, hit.start() - (pf.text.rfind("\n", 0, hit.start()) + 1) + 1)
        return Location(self.files[0].path, 1, 1)

    def _query(self, text: str) -> Any:
        """The rules' output for one input: the parts findings are made of, or None.

        Raises :class:`EvalFailed` when regopy reports an evaluation error
        (it returns its error S-expression where JSON is expected; the
        expression also echoes the input, which is never shown).
        """
        try:
            if self._bundle is not None:
                self._runner.set_input_term(text)
                out = self._runner.query_bundle(self._bundle)
            else:
                self._interp.set_input_term(text)
                out = self._interp.query("data.main")
        except json.JSONDecodeError as e:
            raise EvalFailed(errormsg(e.doc)) from None
        except Exception as e:  # noqa: BLE001 - regopy raises RegoError (or worse)
            raise EvalFailed(errormsg(str(e))) from None
        try:
            rules = out.results[0].expressions[0]
        except (AttributeError, IndexError):
            return None
        if isinstance(rules, dict):  # only these are read; the rest need not be kept
            return {k: rules[k] for k in SEVERITY if k in rules}
        return rules


def storable(rules: Any, given: Any) -> bool:
    """Whether a rule's output may be kept in the cache folder: it quotes nothing
    that masking would hide (a credential left in clear, a string like one).

    A rule may echo what it was given.  Every report masks such a quote, but
    the cache folder is written as it is and may be carried beyond the run
    (``actions/cache``), so an output that holds one is evaluated again next time.
    """
    text = json.dumps(rules, ensure_ascii=False, default=jsonable)
    return mask_messages([text], given)[0] == text

