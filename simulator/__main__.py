"""`python -m simulator`: run the simulated OpenRouter."""

from simulator.server import main

if __name__ == "__main__":
    raise SystemExit(main())
