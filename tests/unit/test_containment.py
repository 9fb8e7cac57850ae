"""Containment of the repo and of the output: every reader and writer goes through cfgc.base.repopath."""

from pathlib import Path

import pytest

from cfgc.base.errors import InputError, IntegrityError, MultipleErrors
from cfgc.bundle.attest import listed_files
from cfgc.bundle.layout import target_path, write_file
from cfgc.compile.schema import schema_files
from cfgc.repo.config import load_config
from cfgc.repo.hierarchy import Hierarchy
from cfgc.repo.sources import DirSource, GitSource
from tests.fixtures.repos import git_init

HIER = "version: 1\nhierarchy: ['envs/{env}.yaml', 's/{env}/{service}.yaml']\n"


def config_error(make_repo, text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_config(DirSource(make_repo({}, config=text)))
    return info.value


@pytest.mark.parametrize("template", [
    "{env}/{service.__class__}", "{env}/{service:>10}", "{env}/{service!r}", "{env}/{service[0]}",
    "{0}/{env}/{service}", "{env}/{service}/{{x}}", "{env}/{service}}", "{env}/{ service}",
])
def test_targets_accepts_only_var_placeholders(make_repo, template: str) -> None:
    err = config_error(make_repo, HIER + f"targets: '{template}'\n")
    assert "is not a placeholder" in err.message
    assert str(err.location) == "cfgc.yaml:3:1"


def test_targets_unknown_variable_is_refused_at_its_line(make_repo) -> None:
    err = config_error(make_repo, HIER + "targets: '{env}/{service}/{region}'\n")
    assert "{region}" in err.message and str(err.location) == "cfgc.yaml:3:1"


@pytest.mark.parametrize("template", ["../{env}/{service}", "/{env}/{service}", "{env}//{service}",
                                      "{env}/.{service}", "{env}/*/{service}"])
def test_targets_literal_parts_follow_the_grammar(make_repo, template: str) -> None:
    err = config_error(make_repo, HIER + f"targets: '{template}'\n")
    assert err.message.startswith("targets: target name") and str(err.location) == "cfgc.yaml:3:1"


def test_targets_expanded_by_cfgc(make_repo) -> None:
    root = make_repo({"envs/prod.yaml": "a: 1\n", "s/prod/chat.yaml": "b: 1\n"},
                     config=HIER + "targets: 'cfg-{env}/{service}.v1'\n")
    src = DirSource(root)
    assert [t.name for t in Hierarchy(load_config(src), src.files()).targets()] == ["cfg-prod/chat.v1"]


def test_paths_in_cfgc_yaml_must_stay_in_the_repo(make_repo) -> None:
    with pytest.raises(MultipleErrors) as info:
        load_config(DirSource(make_repo({}, config=HIER + "targets: '{env}/{service}'\n"
                                        "schemas:\n  - schema: schemas/ok.json\n  - schema: ../x.json\n"
                                        "  - schema: /etc/passwd\nprompts: ../p\npolicies: /etc/\n")))
    got = [(str(e.location), e.message.split(":")[0]) for e in info.value.errors]
    assert got == [("cfgc.yaml:6:5", "schema"), ("cfgc.yaml:7:5", "schema"),
                   ("cfgc.yaml:8:1", "prompts"), ("cfgc.yaml:9:1", "policies")]


@pytest.mark.parametrize(("bad_file", "var"), [
    ("s/prod/-x.yaml", "service"), ("s/prod/.chat.yaml", "service"), ("s/pr*d/chat.yaml", "env"),
    ("s/prod/a[1].yaml", "service"), ("s/prod/c h.yaml", "service"),
])
def test_variable_from_a_file_name_follows_the_grammar(make_repo, bad_file: str, var: str) -> None:
    files = {"envs/prod.yaml": "a: 1\n", "s/prod/chat.yaml": "b: 1\n"}
    root = make_repo({**files, bad_file: "c: 1\n"}, config=HIER + "targets: '{env}/{service}'\n")
    src = DirSource(root)
    with pytest.raises(InputError) as info:
        Hierarchy(load_config(src), src.files()).targets()
    assert str(info.value.location) == bad_file
    assert f"variable {{{var}}} taken from this file name" in info.value.message


def test_dotdot_variable_from_a_file_name(make_repo) -> None:
    cfg = "version: 1\nhierarchy: ['r/{region}.yaml', 'd/{region}-{cluster}.yaml']\ntargets: '{region}/{cluster}'\n"
    root = make_repo({"r/us.yaml": "a: 1\n", "d/us-a.yaml": "b: 1\n", "d/..-...yaml": "c: 1\n"}, config=cfg)
    src = DirSource(root)
    with pytest.raises(InputError) as info:
        Hierarchy(load_config(src), src.files()).targets()
    assert str(info.value) == ("d/..-...yaml: error: variable {region} taken from this file name: '..' is not a "
                               "safe name: use letters, digits, '.', '_', '-' and do not start with '.' or '-'")


def test_dir_source_lists_links_and_refuses_to_read_them(make_repo, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "s.yaml").write_text("x: 1\n")
    root = make_repo({"base/a.yaml": "a: 1\n"})
    (root / "base" / "b.yaml").symlink_to("a.yaml")
    (root / "linked").symlink_to(tmp_path / "outside")
    src = DirSource(root)
    assert {"base/b.yaml", "linked"} <= set(src.files())
    assert not any(f.startswith("linked/") for f in src.files())  # a linked folder is never entered
    for path, what in (("base/b.yaml", "the file"), ("linked/s.yaml", "linked"), ("linked", "the file")):
        with pytest.raises(InputError) as info:
            src.read(path)
        assert str(info.value) == f"{path}: error: {what} is a symbolic link; cfgc does not follow links"


def test_git_source_refuses_link_blobs(make_repo) -> None:
    root = make_repo({"base/a.yaml": "a: 1\n"})
    (root / "base" / "b.yaml").symlink_to("a.yaml")  # inside the repo: refused all the same
    git_init(root)
    src = GitSource(root, "HEAD")
    assert "base/b.yaml" in src.files()
    src.prefetch(["base/a.yaml", "base/b.yaml"])
    assert src.read("base/a.yaml") == b"a: 1\n"
    with pytest.raises(InputError) as info:
        src.read("base/b.yaml")
    assert "symbolic link" in info.value.message and str(info.value.location) == "base/b.yaml"
    with pytest.raises(InputError) as info:
        src.read("../outside.yaml")
    assert "leaves its root" in info.value.message


def test_schema_link_is_reported_not_mistaken_for_missing(make_repo) -> None:
    root = make_repo({"schemas/real.json": "{}"},
                     config=HIER + "targets: '{env}/{service}'\nschemas:\n  - schema: schemas/s.json\n")
    (root / "schemas" / "s.json").symlink_to("real.json")
    src = DirSource(root)
    with pytest.raises(InputError) as info:
        schema_files(src, load_config(src))
    assert "symbolic link" in info.value.message


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "a/*"])
def test_bundle_never_writes_a_target_outside(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError):
        target_path(name)
    staging = tmp_path / "a" / "b" / "staging"
    staging.mkdir(parents=True)
    if "*" not in name:  # a '*' is a legal file name: only the grammar of target_path refuses it
        with pytest.raises(InputError):
            write_file(staging, f"targets/{name}.json", b"{}")
    assert not list(tmp_path.rglob("*.json"))


def test_bundle_write_refuses_a_linked_folder(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "targets").symlink_to(tmp_path)
    with pytest.raises(InputError):
        write_file(staging, "targets/x.json", b"{}")
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("manifest", [
    {"targets": {"../../x": {}}},
    {"targets": {"/etc/passwd": {}}},
    {"targets": {}, "prompts": {"p@1.0.0": {"path": "../prompts/p/1.0.0.j2"}}},
    {"targets": {}, "prompts": {"p@1.0.0": {"path": "/etc/passwd"}}},
    {"targets": {}, "secrets": {"s.yaml": {"path": "targets/x.json"}}},
    {"targets": {}, "secrets": {"s.yaml": {"path": "secrets/../../x"}}},
])
def test_manifest_paths_outside_the_bundle_are_integrity_errors(manifest) -> None:
    with pytest.raises(IntegrityError) as info:
        listed_files(manifest)
    assert "not a path inside the bundle" in info.value.message


def test_manifest_paths_inside_pass() -> None:
    got = listed_files({"targets": {"a/b": {}}, "prompts": {"p@1.0.0": {"path": "prompts/p/1.0.0.j2"}},
                        "secrets": {"t/s.yaml": {"path": "secrets/t/s.yaml"}}})
    assert [p for p, _, _ in got] == ["targets/a/b.json", "prompts/p/1.0.0.j2", "secrets/t/s.yaml"]


_FORKED: list[GitSource] = []  # inherited by forked workers, as cfgc.base.parallel shares the compiler


def _read_in_worker(paths):
    return [_FORKED[0].read(p) for p in paths]


def test_git_source_reads_correctly_in_forked_workers(make_repo) -> None:
    import multiprocessing

    files = {f"f/{i:03d}.yaml": f"n: {i}\n" + "x" * (i * 37) for i in range(120)}
    root = make_repo(files)
    git_init(root)
    src = GitSource(root, "HEAD")
    src.read("f/000.yaml")  # the parent's git process is running before the fork
    paths = sorted(files)
    chunks = [paths[i::4] for i in range(4)] * 3
    _FORKED[:] = [src]
    try:
        with multiprocessing.get_context("fork").Pool(4) as pool:
            results = pool.map_async(_read_in_worker, chunks, chunksize=1).get(timeout=60)
    finally:
        _FORKED.clear()
    for ps, datas in zip(chunks, results, strict=True):
        assert [d.decode() for d in datas] == [files[p] for p in ps]
