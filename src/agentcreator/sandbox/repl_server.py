"""The interpreter loop that runs INSIDE a sandbox (standard library only; never imported by the app).

The host copies this file into the sandbox and runs it with the sandbox's Python. Protocol:
- requests: one JSON object per line on stdin: ``{"id": int, "code": str, "nonce": str}``;
- replies: one JSON object per line on the fd named by the first argument (``{"ready": ...}`` first, then one per request:
  ``{"id", "value", "error", "cpu_seconds"}``);
- stdout and stderr are the sandbox's fds 1 and 2, read by the host; after each request both get the
  request's nonce line so the host knows where the request's output ends.
Variables live in one namespace for the life of the process. Open matplotlib figures are saved to
``/mnt/data`` after each request (so ``plt.show()`` yields a chart) and closed, except a figure the code
saved itself (``savefig``) and did not change afterwards: that one is already a file, and saving it again
would show the chart twice.
"""

import ast
import functools
import importlib.abc
import importlib.util
import json
import linecache
import os
import resource
import shutil
import sys
import traceback
import types
import warnings

VALUE_CHARS = 10_000
WORK_DIR = "/mnt/data"
MPL_CACHE = "/opt/env/mplconfig"
SAVED_MARK = "_agentcreator_saved"  # set on a Figure by its savefig; the figure is not saved again


def _cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _short(text, limit=VALUE_CHARS):
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"


def _traceback(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``hook(module)`` right after the module ``name`` is first imported (matplotlib is imported by
    the code, often in the cell that plots, so the hook must be in place before any cell runs)."""

    def __init__(self, name, hook):
        self.name = name
        self.hook = hook

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once: the other finders locate the module
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module
        hook = self.hook

        def exec_then_hook(module):
            exec_module(module)
            hook(module)

        spec.loader.exec_module = exec_then_hook  # this spec's own loader instance
        return spec


def _mark_saved_figures(figure_module):
    """``Figure.savefig`` (``plt.savefig`` too) marks the figure as saved and as drawn: a change after the
    save makes it stale again (matplotlib propagates ``stale`` from every artist to its figure)."""
    original = figure_module.Figure.savefig

    @functools.wraps(original)
    def savefig(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        setattr(self, SAVED_MARK, True)
        self.stale = False
        return result

    figure_module.Figure.savefig = savefig


class Interpreter:
    def __init__(self):
        # The user's namespace is a fresh __main__ module, so functions and classes it defines pickle
        # (multiprocessing) and nothing of this loop is in it.
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = __builtins__
        sys.modules["__main__"] = module
        self.namespace = module.__dict__
        self.cells = 0
        self.charts = 0
        if "matplotlib.figure" not in sys.modules:
            sys.meta_path.insert(0, _AfterImport("matplotlib.figure", _mark_saved_figures))
        # Agg cannot show a window (fig.show() warns); figures left open are saved after the call instead.
        warnings.filterwarnings("ignore", message=r".*non-interactive, and thus cannot be shown")

    def run(self, code):
        self.cells += 1
        filename = f"<cell {self.cells}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        value = error = None
        try:
            tree = ast.parse(code, filename, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, filename, "exec"), self.namespace)
            if last is not None:
                result = eval(compile(last, filename, "eval"), self.namespace)
                if result is not None:
                    self.namespace["_"] = result
                    value = _short(repr(result))
        except SystemExit as exc:
            error = f"SystemExit: {exc.code!r} (the session keeps running)"
        except BaseException as exc:  # noqa: BLE001 - the model reads every failure, KeyboardInterrupt too
            error = _short(_traceback(exc), 20_000)
        self._save_figures()
        return value, error

    def _save_figures(self):
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return
        try:
            for number in pyplot.get_fignums():
                figure = pyplot.figure(number)
                if getattr(figure, SAVED_MARK, False) and not figure.stale:
                    continue  # the code saved it and changed nothing since: it is in /mnt/data already
                self.charts += 1
                figure.savefig(os.path.join(WORK_DIR, f"chart-{self.charts}.png"), dpi=100)
            pyplot.close("all")
        except Exception as exc:  # noqa: BLE001 - a figure that cannot render: say so, keep the session
            print(f"(could not save the open matplotlib figures: {exc})", file=sys.stderr)


def main():
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(int(sys.argv[1]), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(os.devnull)
    sys.stdout.reconfigure(line_buffering=True, errors="backslashreplace")
    sys.stderr.reconfigure(line_buffering=True, errors="backslashreplace")
    config_dir = os.environ.get("MPLCONFIGDIR")
    if config_dir and os.path.isdir(MPL_CACHE) and not os.path.exists(config_dir):
        shutil.copytree(MPL_CACHE, config_dir)
    interpreter = Interpreter()

    def reply(message):
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    reply({"ready": True, "python": sys.version.split()[0]})
    for line in requests:
        request = json.loads(line)
        before = _cpu_seconds()
        value, error = interpreter.run(request["code"])
        sys.stdout.flush()
        sys.stderr.flush()
        marker = ("\n" + request["nonce"] + "\n").encode()
        os.write(1, marker)
        os.write(2, marker)
        reply({"id": request["id"], "value": value, "error": error,
               "cpu_seconds": round(_cpu_seconds() - before, 3)})


if __name__ == "__main__":
    main()
