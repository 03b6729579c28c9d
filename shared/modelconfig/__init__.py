"""The model config service's shared layer: catalog, domain rules, storage and provider clients.

On Lambda, importing the layer pauses the cyclic garbage collector. A cold start only builds objects that live
as long as the sandbox (modules, models, the SDK client), and collecting while they pile up cost 13 to 28 ms
of every cold start. Each function imports the layer first; `api.coldstart.entry_point` freezes what the cold
start built and resumes the collector once the first request is answered.
"""

import gc
import os

if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # set by Lambda and `sam local`; `make run` and in-process tests lack it
    gc.disable()
