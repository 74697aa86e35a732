"""`make package`: the deployable SAM template and zip, with infra/resources.json merged in.

`chalice package` only ships `app.py`, `chalicelib/` and `vendor/`, and Lambda imports
handler strings such as `functions.consumers.events_consumer` from the zip's root. So we
stage a copy of the project in build/stage/ with our packages under `vendor/` (Chalice
copies vendor/'s contents to the zip's root): the import paths in the zip are the same as
in the repository. Then:

    build/stage/                  app.py, requirements.txt, .chalice/config.json,
                                  vendor/functions, vendor/layers
    chalice package --stage S --merge-template infra/resources.json build/package
    build/package/sam.json        + Parameters.Stage pinned to S
    cfn-lint build/package/sam.json

Chalice's IAM: with `autogen_policy: false` Chalice gives every function its own role
(ApiHandlerRole, EventsConsumerRole, ..., JobsRole) whose single inline policy comes from
`iam_policy_file`. We stage a deny-all placeholder there and infra/resources.json replaces
each role's `Policies` list wholesale (Chalice's merge replaces lists), so what a function
may do is written in one place; the build fails if a role kept the placeholder.

    python -m local.package [--stage prod] [--out build/package] [--no-lint] [--if-stale]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "infra" / "resources.json"
STAGE_DIR = ROOT / "build" / "stage"
OUT_DIR = ROOT / "build" / "package"
PACKAGES = ("functions", "layers")
PLACEHOLDER_POLICY = "policy-from-infra.json"
_PLACEHOLDER = {"Version": "2012-10-17",
                "Statement": [{"Sid": "ReplacedByInfraResourcesJson", "Effect": "Deny",
                               "Action": "*", "Resource": "*"}]}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def _bin(name: str) -> str:
    """The venv's console script next to this interpreter, else PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def inputs_digest(stage: str) -> str:
    """Hash of everything that goes into the package: a build with the same digest is fresh."""
    h = hashlib.sha256(stage.encode())
    files = [ROOT / "app.py", ROOT / "requirements.txt", ROOT / ".chalice" / "config.json", RESOURCES,
             Path(__file__)]
    for pkg in PACKAGES:
        files += sorted(p for p in (ROOT / pkg).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def stage_project(stage_dir: Path = STAGE_DIR) -> Path:
    """Copy what the package needs into stage_dir; keeps .chalice/deployments (Chalice's
    cache of built dependencies) so a rebuild only downloads wheels when requirements change."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(ROOT / name, stage_dir / name)
    chalice_dir = stage_dir / ".chalice"
    chalice_dir.mkdir(exist_ok=True)
    shutil.copy2(ROOT / ".chalice" / "config.json", chalice_dir / "config.json")
    (chalice_dir / PLACEHOLDER_POLICY).write_text(json.dumps(_PLACEHOLDER, indent=2))
    vendor = stage_dir / "vendor"
    if vendor.exists():
        shutil.rmtree(vendor)
    vendor.mkdir()
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, vendor / pkg, ignore=_IGNORE)
    return stage_dir


def _check(template: dict) -> None:
    """What the merge must have achieved; a failure here is a bug in infra/resources.json."""
    resources = template["Resources"]
    problems = []
    for name, res in resources.items():
        if res.get("Type") == "AWS::IAM::Role":
            for policy in res["Properties"].get("Policies", []):
                for st in policy["PolicyDocument"].get("Statement", []):
                    if st.get("Sid") == "ReplacedByInfraResourcesJson":
                        problems.append(f"{name} kept the placeholder policy: give it Policies in resources.json")
        if res.get("Type") == "AWS::Serverless::Function":
            if "Type" not in res or "Handler" not in res.get("Properties", {}):
                problems.append(f"{name} is in resources.json but Chalice made no such function")
            for ev_name, ev in res["Properties"].get("Events", {}).items():
                if ev.get("Type") == "SQS" and ev["Properties"].get("FunctionResponseTypes") != [
                        "ReportBatchItemFailures"]:
                    problems.append(f"{name}.{ev_name} does not report batch item failures")
    for name, res in resources.items():
        if "Type" not in res:
            problems.append(f"{name} in resources.json matches no resource Chalice generated")
    problems += _check_snapstart(resources)
    if problems:
        raise SystemExit("package check failed:\n  " + "\n  ".join(problems))


def pin_function_stage(template: dict, stage: str) -> None:
    """Every function's STAGE is the stage packaged. Chalice sets it only for the stages
    .chalice/config.json lists; a stage `make deploy` creates would run as "dev" (and
    stamp its tokens so)."""
    for res in template["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"].setdefault("Environment", {}).setdefault("Variables", {})["STAGE"] = stage


def _secret_resource(group: str) -> str:
    return "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretId}/" + group + "-??????"


def set_secret_groups(template: dict) -> None:
    """Each function's SHOP_SECRET_GROUPS from infra's Metadata.SecretGroups (one table for
    what a function reads and what its role may read); fails unless the role's
    ReadSettingsSecret grants exactly those secrets. In infra/ rather than Chalice's
    config because Chalice's per-function variables are per stage, and a stage `make
    deploy` creates would silently read every secret or none."""
    from layers.config import SECRET_GROUPS

    table = {k: v for k, v in template.get("Metadata", {}).get("SecretGroups", {}).items() if k != "Description"}
    resources = template["Resources"]
    functions = {n for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}
    problems = [f"{n} has no entry in Metadata.SecretGroups" for n in sorted(functions - set(table))]
    for name, groups in table.items():
        if name not in functions:
            problems.append(f"Metadata.SecretGroups names {name}, which is no function")
            continue
        problems += [f"{name}: no settings group {g!r}" for g in groups if g not in SECRET_GROUPS]
        props = resources[name]["Properties"]
        props.setdefault("Environment", {}).setdefault("Variables", {})["SHOP_SECRET_GROUPS"] = ",".join(groups)
        role = resources[props["Role"]["Fn::GetAtt"][0]]
        granted = [r for p in role["Properties"].get("Policies", []) for st in p["PolicyDocument"]["Statement"]
                   if st.get("Sid") == "ReadSettingsSecret"
                   for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
        if sorted(json.dumps(r, sort_keys=True) for r in granted) != sorted(
                json.dumps({"Fn::Sub": _secret_resource(g)}, sort_keys=True) for g in groups):
            problems.append(f"{name}: its role's ReadSettingsSecret must grant exactly {groups}")
    if problems:
        raise SystemExit("package check failed:\n  " + "\n  ".join(problems))


# The API function runs with SnapStart (docs/cold-start.md), which only published versions
# have: infra/resources.json gives it `AutoPublishAlias` (SAM publishes a version whenever
# its code or configuration changes and moves the alias to it) and gives API Gateway the
# permission to invoke the alias. Every route Chalice generates invokes the function
# itself (`${APIHandler.Arn}`: its unpublished $LATEST, which has no SnapStart); here each
# invokes the alias instead, through SAM's reference `{"Ref": "APIHandler.Alias"}` (given
# to Fn::Sub as a variable: cfn-lint, which checks the template before SAM's transform,
# knows that reference in a Ref but not inside a Sub string).
API_FUNCTION = "APIHandler"
API_ALIAS = "live"
_FUNCTION_ARN = f"${{{API_FUNCTION}.Arn}}"
_ALIAS = {"Ref": f"{API_FUNCTION}.Alias"}


def point_api_at_alias(template: dict) -> int:
    """Every API Gateway integration of the template invokes the API function's alias.
    Returns how many integrations were rewritten."""
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    rewritten = 0
    for methods in body["paths"].values():
        for operation in methods.values():
            integration = operation.get("x-amazon-apigateway-integration") or {}
            uri = integration.get("uri")
            if isinstance(uri, dict) and _FUNCTION_ARN in str(uri.get("Fn::Sub", "")):
                integration["uri"] = {"Fn::Sub": [uri["Fn::Sub"].replace(_FUNCTION_ARN, "${ApiFunctionAlias}"),
                                                  {"ApiFunctionAlias": dict(_ALIAS)}]}
                rewritten += 1
    return rewritten


def _check_snapstart(resources: dict) -> list[str]:
    problems = []
    api = resources[API_FUNCTION]["Properties"]
    if api.get("SnapStart") != {"ApplyOn": "PublishedVersions"} or api.get("AutoPublishAlias") != API_ALIAS:
        problems.append(f"{API_FUNCTION} must have SnapStart on published versions and the alias {API_ALIAS}")
    if resources[f"{API_FUNCTION}InvokePermission"]["Properties"]["FunctionName"] != _ALIAS:
        problems.append(f"API Gateway must be allowed to invoke the alias of {API_FUNCTION}, not the function")
    for path, methods in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"].items():
        for method, operation in methods.items():
            uri = (operation.get("x-amazon-apigateway-integration") or {}).get("uri")
            if uri is not None and (uri.get("Fn::Sub") or [None, None])[1] != {"ApiFunctionAlias": _ALIAS}:
                problems.append(f"{method.upper()} {path} invokes {API_FUNCTION} otherwise than through its alias")
    return problems


def package(stage: str = "prod", out: Path = OUT_DIR, lint: bool = True, if_stale: bool = False) -> Path:
    out = Path(out)
    digest = inputs_digest(stage)
    stamp = out / ".inputs-digest"
    if if_stale and stamp.exists() and stamp.read_text() == digest and (out / "sam.json").exists():
        print(f"package: {out} is up to date", file=sys.stderr)
        return out
    started = time.monotonic()
    stage_dir = stage_project()
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    # Chalice imports app.py while packaging: it must not pick up the developer's local settings.
    for name in ("DYNAMODB_ENDPOINT", "SQS_ENDPOINT", "SHOP_TABLE", "STAGE"):
        env.pop(name, None)
    cmd = [_bin("chalice"), "package", "--stage", stage, "--merge-template", str(RESOURCES), str(out.resolve())]
    print("package: " + " ".join(cmd[1:]), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=stage_dir, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        hint = ""
        if "manylinux" in (proc.stdout + proc.stderr) or "Could not" in proc.stderr:
            hint = "\n(chalice package downloads Linux wheels from PyPI: is the network reachable?)"
        raise SystemExit(f"chalice package failed:\n{proc.stdout}\n{proc.stderr}{hint}")
    sam = out / "sam.json"
    template = json.loads(sam.read_text())
    # Pin the template to the stage it was built for: the queue and table names, and the
    # secret it reads, all follow from it.
    template["Parameters"]["Stage"]["Default"] = stage
    template["Parameters"]["Stage"]["AllowedValues"] = [stage]
    template["Parameters"]["SecretId"]["Default"] = f"wechat-shop/{stage}"
    pin_function_stage(template, stage)
    set_secret_groups(template)
    point_api_at_alias(template)
    _check(template)
    sam.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n")
    dropped = strip_runtime_provided(out / "deployment.zip")
    print(f"package: left out what Lambda's runtime provides: {', '.join(dropped)}", file=sys.stderr)
    compiled = add_bytecode(out / "deployment.zip")
    print(f"package: bytecode for the {compiled} modules the handlers import", file=sys.stderr)
    if lint:
        print("package: cfn-lint " + str(sam.relative_to(ROOT) if sam.is_relative_to(ROOT) else sam),
              file=sys.stderr, flush=True)
        lint_proc = subprocess.run([_bin("cfn-lint"), str(sam)], capture_output=True, text=True)
        if lint_proc.returncode != 0:
            raise SystemExit(f"cfn-lint failed:\n{lint_proc.stdout}{lint_proc.stderr}")
    stamp.write_text(digest)
    zip_mb = (out / "deployment.zip").stat().st_size / 1e6
    print(f"package: {out}/sam.json and deployment.zip ({zip_mb:.1f} MB) in "
          f"{time.monotonic() - started:.0f}s", file=sys.stderr)
    return out


# -- the zip without what Lambda's python3.12 runtime already carries ----------------

# Distributions (wheel names) the runtime provides on its own path, after /var/task: boto3
# and its dependencies. urllib3 stays in the zip: requests needs it and we ship the version
# we test with. The versions we test with are pinned in requirements-runtime.txt (README).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "six")
# The package's size goal (a smaller zip starts colder less). The console adds Jinja2 and its vendored htmx/ECharts; leaving
# out Powertools' unserved Swagger UI gives room back.
MAX_ZIP_BYTES = 12_000_000


def _dist_name(dist_info_dir: str) -> str:
    return dist_info_dir[: -len(".dist-info")].rsplit("-", 1)[0].replace("-", "_").lower()


def strip_runtime_provided(zip_path: Path) -> list[str]:
    """Rewrite the zip without the files of RUNTIME_PROVIDED (found through each wheel's
    RECORD, with its .dist-info and .data). Returns the distributions it removed."""
    import zipfile

    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        drop: set[str] = set()
        prefixes: list[str] = []
        dropped = []
        for name in sorted(names):
            top = name.split("/", 1)[0]
            if not (top.endswith(".dist-info") and name == f"{top}/RECORD"):
                continue
            if _dist_name(top) not in RUNTIME_PROVIDED:
                continue
            dropped.append(_dist_name(top))
            for line in zf.read(name).decode().splitlines():
                path = line.rsplit(",", 2)[0]
                if path and not path.startswith(".."):
                    drop.add(path)
            prefixes += [top + "/", top[: -len(".dist-info")] + ".data/"]
        kept = [i for i in infos if i.filename not in drop and not i.filename.startswith(tuple(prefixes))]
        # Directories left empty (botocore/data/...): keep only those that still hold a file.
        files = [i for i in kept if not i.is_dir()]
        dirs_in_use = {f.filename.rsplit("/", 1)[0] + "/" for f in files if "/" in f.filename}
        parents = {d[: i + 1] for d in dirs_in_use for i in range(len(d)) if d[i] == "/"}
        kept = [i for i in kept if not i.is_dir() or i.filename in parents]
        tmp = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
            for info in kept:
                out.writestr(info, zf.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(zip_path)
    return sorted(dropped)


# Subpackages of our dependencies that no handler imports, lazily or not (checked by importing
# every module of functions/ and layers/, and by the packaging test that imports every
# handler from the zip): Powertools' event handler and its Swagger UI (the app is
# Chalice's), pydantic's v1 compatibility layer, wechatpy's WeCom (enterprise) client; and
# charset_normalizer's mypyc-compiled speedups, whose pure-Python twins (md.py, cd.py) sit
# beside them in the wheel: requests asks it only to guess the encoding of a body that names
# none, which WeChat's JSON answers never are.
_UNSERVED = ("aws_lambda_powertools/event_handler/", "pydantic/v1/", "wechatpy/enterprise/",
             "charset_normalizer/md.cpython-", "charset_normalizer/cd.cpython-")

_IMPORTED_BY_HANDLERS = """
import importlib, json, pkgutil, sys
import app
for name in ("functions.consumers", "functions.jobs"):
    importlib.import_module(name)
for pkg in ("functions", "layers"):
    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
        importlib.import_module(m.name)
print(json.dumps(sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())})))
"""


# The zip's top-level entries that are this project's code (the rest are libraries).
OWN_CODE = ("app.py", "functions", "layers")


def add_bytecode(zip_path: Path) -> int:
    """Lambda's /var/task is read-only: Python cannot cache bytecode there, so every cold
    start would compile each module it imports from source (seconds, for pydantic and
    its neighbours). So the zip carries the bytecode of every module of the zip that the
    handlers import (found by importing them all on a clean path), as unchecked-hash .pyc
    files that stay valid whatever mtimes the extraction gives. And what that import
    shows nobody imports goes: top-level packages no handler loads (cffi's Python side,
    pycparser: build-time tools of cryptography), type stubs, the wheels' metadata (no
    handler asks importlib.metadata about them). Returns how many modules
    were compiled.

    Our own modules keep their source beside their `__pycache__` bytecode (a traceback in
    the logs shows our lines). A library's module that the handlers import is shipped as
    its bytecode alone, where its source was (`pydantic/main.pyc`, loaded sourceless):
    nobody reads a library's source in Lambda, and leaving it out keeps the zip under
    its size goal as our own code grows. A library module no handler imports at start
    keeps its source (it compiles on first use, as it always did)."""
    import py_compile
    import tempfile
    import zipfile

    if sys.version_info[:2] != (3, 12):
        raise SystemExit("package with Python 3.12: the bytecode must be the python3.12 runtime's")
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = unpack(zip_path, Path(tmp))
        task = unpacked / "task"
        proc = lambda_python(unpacked, _IMPORTED_BY_HANDLERS, extra_args=("-B",))
        if proc.returncode != 0:
            raise SystemExit(f"importing the handlers from the zip failed:\n{proc.stderr[-3000:]}")
        files = [Path(f) for f in json.loads(proc.stdout.strip().splitlines()[-1]) if f]
        loaded = [f.relative_to(task) for f in files if f.is_relative_to(task)]
        loaded_tops = {f.parts[0] for f in loaded}
        sources = sorted(f for f in loaded if f.suffix == ".py")
        sourceless = {str(f) for f in sources if f.parts[0] not in OWN_CODE}
        tmp_zip = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(zip_path) as old, zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED,
                                                               compresslevel=9) as new:
            for info in old.infolist():
                top = info.filename.split("/", 1)[0]
                metadata = top.endswith((".dist-info", ".data"))  # read by no handler (pip's records)
                if metadata or (top not in loaded_tops and top != "__pycache__") or info.filename.endswith(".pyi"):
                    continue
                if info.filename.startswith(_UNSERVED) or info.filename in sourceless:
                    continue
                new.writestr(info, old.read(info.filename), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            for rel in sources:
                if str(rel) in sourceless:
                    target = rel.with_suffix(".pyc")
                else:
                    target = rel.parent / "__pycache__" / f"{rel.stem}.cpython-312.pyc"
                cfile = Path(tmp) / "pyc" / target
                py_compile.compile(str(task / rel), cfile=str(cfile), dfile=f"/var/task/{rel}", doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                new.write(cfile, str(target))
        tmp_zip.replace(zip_path)
    return len(sources)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", default=str(OUT_DIR))
    parser.add_argument("--no-lint", action="store_true")
    parser.add_argument("--if-stale", action="store_true", help="reuse a build of the same inputs")
    args = parser.parse_args(argv)
    package(args.stage, Path(args.out), lint=not args.no_lint, if_stale=args.if_stale)


# ---------------------------------------------------------------------------- the zip, as Lambda sees it

# What the Lambda Python runtime provides besides the standard library (it sits after
# /var/task on sys.path): boto3 and its own dependencies.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def unpack(zip_path: Path, dest: Path) -> Path:
    """The deployment zip extracted into dest/task, and dest/runtime holding (links to) what
    Lambda's runtime adds that the zip lacks, taken from this venv."""
    import importlib.util
    import zipfile

    task = dest / "task"
    runtime = dest / "runtime"
    task.mkdir(parents=True)
    runtime.mkdir()
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
    for name in LAMBDA_RUNTIME_PACKAGES:
        if (task / name).exists() or (task / f"{name}.py").exists():
            continue
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            (runtime / name).symlink_to(next(iter(spec.submodule_search_locations)))
        elif spec and spec.origin:
            (runtime / Path(spec.origin).name).symlink_to(spec.origin)
    return dest


def lambda_python(unpacked: Path, code: str, env: dict | None = None,
                  extra_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter whose sys.path is the zip's contents, then the
    runtime's packages, then the standard library: no venv, no repository, no user site."""
    prelude = (f"import sys; sys.path[:0] = [{str(unpacked / 'task')!r}]; "
               f"sys.path.append({str(unpacked / 'runtime')!r})\n")
    lambda_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "STAGE": "prod",
                  "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                  "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                  "AWS_LAMBDA_FUNCTION_NAME": "local-check", "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                  **(env or {})}
    return subprocess.run([sys.executable, "-I", "-S", *extra_args, "-c", prelude + code],
                          cwd=unpacked / "task", env=lambda_env, capture_output=True, text=True)


if __name__ == "__main__":
    main()
