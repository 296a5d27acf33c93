"""What the command-line tools share: the parser built from a tool's docstring, argument types,
the network flags, and one-line errors with exit status 2 for user mistakes. Free of TensorFlow
(the PyTorch tools use it too)."""

import argparse
import functools
import importlib
import sys
import threading
import time

from lce_models.errors import UserError

#: Exit status for a user mistake (bad flag, unknown model, missing file), as argparse uses.
USAGE_ERROR = 2
#: Exit status after Ctrl-C, as a shell reports a process that SIGINT ended (128 + 2).
INTERRUPTED = 130


def parser(doc, epilog_prefix=""):
    """An ArgumentParser whose description is the first paragraph of a tool's docstring and
    whose epilog is the rest, as written."""
    head, _, rest = doc.strip().partition("\n\n")
    return argparse.ArgumentParser(description=head, epilog=(epilog_prefix + rest) or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def size(text):
    """argparse type for ``HxW`` (e.g. ``180x320``)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 180x320, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"height and width must be positive, got {text!r}")
    return h, w


_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def memory_size(text):
    """argparse type for an amount of memory in bytes: ``2G``, ``1500M``, ``512MiB``, ``2gb``
    (binary units: K, M, G, T; a bare number is bytes)."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 1500M, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a memory size must be positive, got {text!r}")
    return int(value)


def amount(n):
    """Bytes as people read them: ``37.5 MiB``, ``1.20 GiB``, ``100 KiB``."""
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**10:.0f} KiB"


def key_value(text):
    """argparse type for ``KEY=VALUE`` (e.g. ``reduce=mean``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def int_list(text):
    """argparse type for thread counts such as ``1,2,4``."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers such as 1,2,4, got {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError("thread counts must be >= 1")
    return values


#: The network flags: flag -> (argparse keywords, the NetworkConfig field it sets).
NETWORK_FLAGS = {
    "--scale": (dict(type=int, choices=(2, 3, 4), help="SR scale of a network name (default 4)"), None),
    "--variant": (dict(help="BBCU unit variant v1..v4 (default v4), or for bsrn/srresnet-bam: bam (the paper), "
                            "bam-learned, or the ablations w1, w2, a1, a2 (default bam)"), "variant"),
    "--padding": (dict(default="zero", help="binarized-input border of a network name: zero or one (default zero)"),
                  "padding"),
    "--channels": (dict(type=int, choices=(1, 3), help="1 (gray) or 3 (RGB), for a network name"), "channels"),
    "--bam-option": (dict(type=key_value, action="append", metavar="KEY=VALUE",
                          help="override a BAMOptions field of bsrn/srresnet-bam, e.g. reduce=mean, "
                               "weight_terms=latent, weight_norm=none (repeatable)"), "bam_options"),
    "--unit-option": (dict(type=key_value, action="append", metavar="KEY=VALUE",
                           help="override a UnitOptions field of a BBCU network, e.g. estimator=ede, "
                                "weight_estimator=swish, balanced=true, weight_scale=pow2, attention=spatial, "
                                "beta=5 (repeatable)"), "unit_options"),
}


def add_network_flags(p, *flags, **overrides):
    """Add the named network flags (``NETWORK_FLAGS``) to parser or group ``p``;
    ``overrides``: argparse keywords by field, e.g. ``scale=dict(default=4)``."""
    for flag in flags:
        keywords, _ = NETWORK_FLAGS[flag]
        p.add_argument(flag, **{**keywords, **overrides.get(flag.lstrip("-").replace("-", "_"), {})})


def network_fields(args):
    """The ``NetworkConfig`` fields that the network flags of ``args`` set (None where unset)."""
    fields = {}
    for flag, (_, field) in NETWORK_FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if field is None or value is None:
            continue
        if field == "bam_options":
            value = dict(value)
        elif field == "unit_options":
            value = unit_options(value)
        fields[field] = value
    return fields


def unit_options(pairs):
    """--unit-option KEY=VALUE pairs as ``UnitOptions`` fields: true/false and numbers converted."""
    if not pairs:
        return None
    options = {}
    for key, value in pairs:
        if value.lower() in ("true", "false"):
            options[key] = value.lower() == "true"
        else:
            try:
                options[key] = float(value)
            except ValueError:
                options[key] = value
    return options


def require(module, what, requirements):
    """Exit with one line and status 2 when ``module`` cannot be imported, naming the
    requirements file that installs it (called before a tool imports what needs it)."""
    try:
        importlib.import_module(module)
    except ImportError:
        print(f"error: this tool needs {what}, which is not installed: .venv/bin/pip install -r {requirements}",
              file=sys.stderr)
        sys.exit(USAGE_ERROR)


def log(message):
    """A progress line on stderr, so that stdout keeps only the tool's results."""
    print(message, file=sys.stderr, flush=True)


class Stages:
    """Progress of a long job without a count (a conversion, its verification): a line on stderr
    per stage with the time since the job began and, on a terminal, the stage's clock ticking
    every ``tick`` seconds. Call it with each stage's name; use it as a context manager."""

    def __init__(self, job, stream=None, tick=1.0):
        self.job, self.stream, self.tick = job, stream or sys.stderr, tick
        self.live = self.stream.isatty()
        self.stage = None

    def __enter__(self):
        self.start = self.stage_start = time.monotonic()
        self._stop = threading.Event()
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def _text(self):
        now = time.monotonic()
        return f"{self.job}: {self.stage} ({now - self.stage_start:.0f} s; {now - self.start:.0f} s in all)"

    def _tick(self):
        while not self._stop.wait(self.tick):
            if self.stage:
                self.stream.write("\r" + self._text() + "\x1b[K")
                self.stream.flush()

    def __call__(self, stage):
        if self.live and self.stage:
            self.stream.write("\r" + self._text() + "\x1b[K\n")
        self.stage, self.stage_start = stage, time.monotonic()
        if not self.live:
            self.stream.write(f"{self.job}: {stage} (at {self.stage_start - self.start:.0f} s)\n")
        self.stream.flush()

    def __exit__(self, *exc):
        self._stop.set()
        if self.live:
            self._ticker.join()
            if self.stage:
                self.stream.write("\r" + self._text() + "\x1b[K\n")
        self.stream.write(f"{self.job}: {'done' if exc[0] is None else 'stopped'} after "
                          f"{time.monotonic() - self.start:.1f} s\n")
        self.stream.flush()


def main(function):
    """Run a tool's ``main``: user mistakes become ``error: ...`` and exit status 2, Ctrl-C one
    line and exit status 130 (no traceback either way)."""

    @functools.wraps(function)
    def wrapper(argv=None):
        try:
            return function(argv)
        except (UserError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return USAGE_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return INTERRUPTED

    return wrapper
