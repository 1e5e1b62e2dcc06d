"""Start the app's server and load the heavy objects while it starts.

    python -m app_support.serve [streamlit options]      (what `make run` does)

`streamlit run app.py` works too; it only loads the word vectors when the first learner arrives, so the first
page waits for them. Here they load in a background thread while the server starts and the browser connects,
into the same per-process cache (st.cache_resource) the lessons read.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def _warm() -> None:
    import logging

    # the cache is filled outside any session, which Streamlit would otherwise warn about once
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    from app_support import loaders

    loaders.device()
    loaders.glove()


def main() -> None:
    from streamlit.web import cli

    threading.Thread(target=_warm, name="attnviz-warm-up", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
