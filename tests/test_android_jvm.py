"""The Android app's platform-independent module (``android_demo/tilecore``), compiled and
unit-tested here with the machine's JDK and Debian's JUnit 4 (package ``junit4``), against the
golden vectors the Python tests check too (``golden_tiling.py``)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from golden_tiling import PATH as GOLDEN

MODULE = Path(__file__).parents[1] / "android_demo" / "tilecore"
JARS = [Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar")]


def test_tilecore_unit_tests_pass(tmp_path):
    missing = [str(j) for j in JARS if not j.is_file()] + [t for t in ("javac", "java") if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: bash tests/system_packages.sh installs them")
    sources = sorted(str(p) for p in (MODULE / "src").rglob("*.java"))
    classpath = ":".join(map(str, JARS))
    subprocess.run(["javac", "-Werror", "-Xlint:all", "--release", "11", "-d", str(tmp_path), "-cp", classpath,
                    *sources], check=True)
    tests = sorted(f"org.lcemodels.tiles.{p.stem}" for p in (MODULE / "src" / "test").rglob("*Test.java"))
    run = subprocess.run(["java", f"-Dgolden={GOLDEN}", "-cp", f"{tmp_path}:{classpath}",
                          "org.junit.runner.JUnitCore", *tests], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "OK (11 tests)" in run.stdout  # every test class ran
