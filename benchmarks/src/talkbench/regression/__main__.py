"""``python -m talkbench.regression compare|refresh|smoke`` (the same commands as ``talkbench regress``)."""

from .cli import regress_app

if __name__ == "__main__":
    regress_app(prog_name="python -m talkbench.regression")
