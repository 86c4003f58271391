"""``python -m bench.package``: what ``make package`` builds, measured.

Runs ``make package`` (the pinned Serverless CLI, offline) into a temporary directory, timed,
then reports the artifacts' sizes (each function's zip, the Python packages' layer and its
largest distributions, what keeping the ``*.dist-info`` costs), what shipping the packages
inside every function instead of one layer would upload, and the two stacks' resource
counts against CloudFormation's 500. Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def unzipped(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "app"  # and the monitoring stack beside it, in app-monitoring
        started = time.perf_counter()
        subprocess.run(
            ["make", "--no-print-directory", "package", f"PACKAGE_DIR={out}"],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
        template = json.loads((out / "cloudformation-template-update-stack.json").read_text())
        monitoring = json.loads(
            (Path(tmp) / "app-monitoring" / "cloudformation-template-update-stack.json").read_text()
        )
        layer = out / "pythonRequirements.zip"
        einvoice = out / "einvoice.zip"  # the e-invoice layer, only some functions'
        functions = {p.stem: p for p in out.glob("*.zip") if p not in (layer, einvoice)}
        einvoice_zip, einvoice_plain = einvoice.stat().st_size, unzipped(einvoice)
        with_einvoice = {
            name
            for key, r in template["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function"
            and {"Ref": "EinvoiceLambdaLayer"} in r["Properties"].get("Layers", [])
            for name in functions
            if key == name[0].upper() + name[1:] + "LambdaFunction"
        }
        zipped = {name: p.stat().st_size for name, p in functions.items()}
        plain = {name: unzipped(p) for name, p in functions.items()}
        layer_zip, layer_plain = layer.stat().st_size, unzipped(layer)
        by_dist: defaultdict[str, int] = defaultdict(int)
        dist_info = 0
        with zipfile.ZipFile(layer) as archive:
            for info in archive.infolist():
                top = info.filename.split("/")[1]
                by_dist[top.split("-")[0].removesuffix(".libs")] += info.file_size
                if ".dist-info/" in info.filename:
                    dist_info += info.file_size
        with zipfile.ZipFile(functions[max(zipped, key=lambda n: zipped[n])]) as archive:
            infos = archive.infolist()
            fonts = sum(i.file_size for i in infos if i.filename.startswith("shared/pdf/fonts/"))

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"make package (both stacks, warm npm/pip/layer caches): {seconds:.1f} s\n")
    print("| artifact | zipped | unzipped |")
    print("|---|---|---|")
    for label, pick in (("smallest function", min), ("largest function", max)):
        name = pick(zipped, key=lambda n: zipped[n])
        print(f"| {label} ({name}) | {zipped[name] / MB:.2f} MB | {plain[name] / MB:.2f} MB |")
    print(
        f"| median function (of {len(zipped)}) | {statistics.median(zipped.values()) / MB:.2f} MB "
        f"| {statistics.median(plain.values()) / MB:.2f} MB |"
    )
    print(f"| of which shared/pdf/fonts (largest function) | | {fonts / MB:.2f} MB |")
    print(f"| the layer (Python packages) | {layer_zip / MB:.1f} MB | {layer_plain / MB:.1f} MB |")
    print(f"| of which *.dist-info (kept) | | {dist_info / MB:.2f} MB |")
    print(
        f"| the e-invoice layer (only {len(with_einvoice)} functions) | "
        f"{einvoice_zip / MB:.1f} MB | {einvoice_plain / MB:.1f} MB |"
    )
    for label, names, extra in (
        ("largest function + the base layer", set(plain) - with_einvoice, 0),
        ("largest function + both layers", with_einvoice, einvoice_plain),
    ):
        if names:
            name = max(names, key=lambda n: plain[n])
            total = plain[name] + layer_plain + extra
            print(f"| {label} ({name}) | | {total / MB:.1f} MB |")
    print(f"| all functions + the layer | {(sum(zipped.values()) + layer_zip) / MB:.0f} MB | |")
    inline = sum(zipped.values()) + len(zipped) * layer_zip
    print(f"| the packages inside every function instead | {inline / MB:.0f} MB | |\n")
    largest = sorted(by_dist.items(), key=lambda kv: -kv[1])[:8]
    print("layer, largest: " + ", ".join(f"{k} {v / MB:.1f} MB" for k, v in largest) + "\n")
    for label, doc in (("application", template), ("monitoring", monitoring)):
        kinds = Counter(r["Type"].split("::", 1)[1] for r in doc["Resources"].values())
        common = ", ".join(f"{k} {v}" for k, v in kinds.most_common(6))
        print(f"{label} stack: {len(doc['Resources'])} resources of 500 ({common})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
