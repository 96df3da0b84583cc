"""`python -m helixq`: how `helixq up` starts its children with the same interpreter."""

from helixq.cli import main

raise SystemExit(main())
