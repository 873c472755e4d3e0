"""``python -m quantize``: see ``quantize.cli``."""

from __future__ import annotations

from quantize.cli import main

if __name__ == "__main__":
    main()
