"""lcphone's app as `lcphone serve` builds it (the bench scenario and inventory, memory settled), for another ASGI
server to serve: section 11 serves it with uvicorn and with granian, on the same requests."""

from operations import INVENTORY, SCENARIO, SEED

from mockserver import Sandbox
from mockserver.domain.scenario import Scenario
from mockserver.serve.settings import settle_memory

sandbox = Sandbox(seed=SEED, scenario=Scenario.from_file(SCENARIO), numbers_per_type=INVENTORY)
settle_memory()
app = sandbox.app
