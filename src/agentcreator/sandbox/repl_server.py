"""The interpreter loop that runs INSIDE a sandbox (standard library only; never imported by the app).

The host copies this file into the sandbox and runs it with the sandbox's Python. Protocol:
- requests: one JSON object per line on stdin: ``{"id": int, "code": str, "nonce": str}``;
- replies: one JSON object per line on the fd named by the first argument (``{"ready": ...}`` first, then one per request:
  ``{"id", "value", "error", "cpu_seconds"}``);
- stdout and stderr are the sandbox's fds 1 and 2, read by the host; after each request both get the
  request's nonce line so the host knows where the request's output ends.
Variables live in one namespace for the life of the process. Open matplotlib figures are saved to
``/mnt/data`` after each request (so ``plt.show()`` yields a chart) and closed.
"""

import ast
import json
import linecache
import os
import resource
import shutil
import sys
import traceback
import types

VALUE_CHARS = 10_000
WORK_DIR = "/mnt/data"
MPL_CACHE = "/opt/env/mplconfig"


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
                self.charts += 1
                pyplot.figure(number).savefig(os.path.join(WORK_DIR, f"chart-{self.charts}.png"), dpi=100)
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
