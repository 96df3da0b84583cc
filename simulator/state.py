"""SimulatorState: everything the simulator remembers, held on the app."""

import random
from dataclasses import dataclass, field

from aiohttp import web

from simulator.batches.store import BatchStore
from simulator.calls import CallLog
from simulator.catalog import Catalog
from simulator.generations import GenerationStore
from simulator.keys import KeyBook
from simulator.ledger import Ledger
from simulator.limits import FreeModelLimiter
from simulator.prompt_cache import PromptCache
from simulator.scripts import ScriptBook
from simulator.settings import SimulatorSettings

_HIGH_BALANCE_USD = 10  # accounts that bought this much get the higher free-model cap


@dataclass
class SimulatorState:
    """Call log, generations, spend, scripts, limits and RNGs of one app."""

    settings: SimulatorSettings
    catalog: Catalog
    calls: CallLog = field(init=False)
    generations: GenerationStore = field(init=False)
    ledger: Ledger = field(init=False)
    scripts: ScriptBook = field(init=False)
    free_limits: FreeModelLimiter = field(init=False)
    prompt_cache: PromptCache = field(init=False)
    batches: BatchStore = field(init=False)
    keys: KeyBook = field(init=False)  # calls per key, storms, provisioned keys
    rng: random.Random = field(init=False)  # faults and jitter: seedable
    ids: random.Random = field(init=False)  # ids: never repeat across resets

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget calls, generations, spend, scripts, batches; reseed the RNG."""
        settings = self.settings
        self.calls = CallLog()
        self.generations = GenerationStore(
            visible_after_s=settings.generation_delay_ms / 1000
        )
        self.ledger = Ledger()
        self.scripts = ScriptBook()
        self.free_limits = FreeModelLimiter(
            settings.free_requests_per_minute,
            settings.free_requests_per_day,
            is_high_balance=settings.credits_usd >= _HIGH_BALANCE_USD,
        )
        self.prompt_cache = PromptCache()
        self.batches = BatchStore()
        self.keys = KeyBook()
        self.rng = random.Random(settings.seed)
        self.ids = random.Random()


STATE = web.AppKey("simulator_state", SimulatorState)
