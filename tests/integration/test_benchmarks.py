"""The benchmark code runs, and its bill counts DynamoDB's units as DynamoDB would (figures: `make bench`)."""

from benchmarks import cost
from benchmarks.run import cost_model, sweep_bench


def test_the_bill_counts_each_routes_units():
    units = {p.label.split(" (")[0]: (p.rru, p.wru, p.secret_calls) for p in cost_model(runs=2)}
    assert units == {
        "GET /api/model-configs": (0.5, 0, 0),  # one eventually consistent Query of under 4 KB
        "GET /api/model-configs/defaults": (0, 0, 0),
        "GET /api/model-configs/byok-providers": (0.5, 0, 0),
        "PUT /api/model-configs/{agentAction}": (0, 1, 0),
        "DELETE /api/model-configs/{agentAction}": (0, 1, 0),  # a refused conditional delete still pays
        "GET /api/byok-keys": (0.5, 0, 0),
        # counter, lease and status commit (a transaction: twice), lease release; read and write the secret
        "PUT /api/byok-keys/{provider}": (0, 6, 2),
        "POST /api/model-configs/test": (0.5, 4, 0),  # two limit counters in one transaction
    }


def test_dynamodb_sizes_and_units():
    item = {"pk": {"S": "USER#u"}, "n": {"N": "12345"}, "m": {"M": {"a": {"BOOL": True}}}}
    assert cost.item_size(item) == (2 + 6) + (1 + 4) + (1 + 3 + 1 + 1)
    assert (cost.read_units(4096, consistent=False), cost.read_units(4097, consistent=True)) == (0.5, 2)
    assert (cost.write_units(10), cost.write_units(1025)) == (1, 2)


def test_the_sweep_benchmark_runs():
    result = sweep_bench(50)
    assert (result["overrides"], result["reset"]) == (50, 20)  # 2 in 5: a retired model, a provider without a key
