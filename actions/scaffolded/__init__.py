"""Actions made with ``mxguard scaffold action NAME``: each module defines ``ACTION``."""
