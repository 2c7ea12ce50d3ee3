"""Benchmark-only launcher: `streamlit run ...` that calls gc.collect(); gc.freeze() after each of the first K
script runs, to measure what gc.freeze() after model load would save (the app itself does not use this).

python -m resnet_viz.load_gcfreeze K run app.py --server.port ...   (see resnet_viz.load --gc-freeze)
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    runs_left = [int(sys.argv[1])]
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.web.cli import main as streamlit_main

    finished = script_runner.ScriptRunner._on_script_finished

    def freeze_after(self, *args, **kwargs):
        finished(self, *args, **kwargs)
        if runs_left[0] > 0:  # the model, the pages' imports and caches are alive now: stop walking them
            runs_left[0] -= 1
            gc.collect()
            gc.freeze()

    script_runner.ScriptRunner._on_script_finished = freeze_after
    sys.argv = ["streamlit", *sys.argv[2:]]
    streamlit_main()


if __name__ == "__main__":
    main()
