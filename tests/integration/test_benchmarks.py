"""The benchmark code runs, and its bill counts DynamoDB's units as DynamoDB would (figures: `make bench`)."""

from benchmarks import cost
from benchmarks.run import cost_model, sweep_bench


def test_the_bill_counts_each_routes_units():
    priced, entry_bytes = cost_model(runs=2)
    units = {p.label.split(" (")[0]: (p.rru, p.wru, p.secret_calls) for p in priced}
    assert 300 < entry_bytes < 1024  # an entry with a ConfigRow before and after fits one write unit
    assert units == {
        "GET /api/model-configs": (0.5, 0, 0),  # one eventually consistent Query of under 4 KB
        "GET /api/model-configs/defaults": (0, 0, 0),
        "GET /api/model-configs/byok-providers": (0.5, 0, 0),
        # the override it replaces, read strongly; then it and its audit entry in one transaction (twice each)
        "PUT /api/model-configs/{agentAction}": (1, 4, 0),
        "DELETE /api/model-configs/{agentAction}": (1, 0, 0),  # nothing to delete: the read, and no write
        "GET /api/byok-keys": (0.5, 0, 0),
        # counter, lease, then status, audit entry and lease release in one transaction (twice each); the secret
        "PUT /api/byok-keys/{provider}": (0, 8, 2),
        "POST /api/model-configs/test": (0.5, 4, 0),  # two limit counters in one transaction
        "GET /api/audit": (1.0, 0, 0),  # the dozen entries written above: two 4 KB units, eventually consistent
    }


def test_dynamodb_sizes_and_units():
    item = {"pk": {"S": "USER#u"}, "n": {"N": "12345"}, "m": {"M": {"a": {"BOOL": True}}}}
    assert cost.item_size(item) == (2 + 6) + (1 + 4) + (1 + 3 + 1 + 1)
    assert (cost.read_units(4096, consistent=False), cost.read_units(4097, consistent=True)) == (0.5, 2)
    assert (cost.write_units(10), cost.write_units(1025)) == (1, 2)


def test_the_sweep_benchmark_runs():
    result = sweep_bench(50)
    assert (result["overrides"], result["reset"]) == (50, 20)  # 2 in 5: a retired model, a provider without a key
