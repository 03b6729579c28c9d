"""The template's grants as tests/iam.py reads them: the platform secret by name or ARN, only where needed."""

from tests import iam

ENV = {"PLATFORM_KEYS_SECRET_ID": "model-config/platform-keys", "USER_SECRET_PREFIX": "model-config/byok/"}
PLATFORM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:model-config/platform-keys-AbC123"


def call(function, action, resource, **env):
    return iam.Call(function, action, resource, tuple((ENV | env).items()))


def test_the_platform_secret_by_name_matches_only_its_own_arn():
    assert iam.allowed(call("TestConfigFunction", "secretsmanager:GetSecretValue", PLATFORM_ARN))
    sibling = PLATFORM_ARN.replace("platform-keys-AbC123", "platform-keys-old-AbC123")
    assert not iam.allowed(call("TestConfigFunction", "secretsmanager:GetSecretValue", sibling))


def test_the_platform_secret_by_arn_is_that_secret():
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys-Zz9Yy8"
    assert iam.allowed(call("TestConfigFunction", "secretsmanager:GetSecretValue", arn, PLATFORM_KEYS_SECRET_ID=arn))
    other = arn.replace("Zz9Yy8", "Qq1Ww2")
    assert not iam.allowed(
        call("TestConfigFunction", "secretsmanager:GetSecretValue", other, PLATFORM_KEYS_SECRET_ID=arn)
    )


def test_only_the_model_test_reads_the_platform_keys_once_the_providers_are_listed():
    for function in (
        "PutConfigFunction",
        "ListByokProvidersFunction",
        "ListConfigsFunction",
        "GetConfigFunction",
        "DeleteKeyFunction",
        "SweepFunction",
    ):
        listed = call(function, "secretsmanager:GetSecretValue", PLATFORM_ARN, PLATFORM_MODEL_PROVIDERS="openai")
        assert not iam.allowed(listed), function
        assert iam.allowed(call(function, "secretsmanager:GetSecretValue", PLATFORM_ARN)), function
    assert not iam.allowed(call("ListKeysFunction", "secretsmanager:GetSecretValue", PLATFORM_ARN))


def test_user_secrets_stay_under_their_prefix_and_a_put_never_deletes_one():
    mine = "arn:aws:secretsmanager:us-east-1:123456789012:secret:model-config/byok/user-a-AbC123"
    assert iam.allowed(call("PutKeyFunction", "secretsmanager:CreateSecret", mine))
    assert not iam.allowed(call("PutKeyFunction", "secretsmanager:DeleteSecret", mine))
    assert iam.allowed(call("DeleteKeyFunction", "secretsmanager:DeleteSecret", mine))
    assert not iam.allowed(call("PutKeyFunction", "secretsmanager:PutSecretValue", PLATFORM_ARN))


def test_a_transaction_is_judged_item_by_item():
    params = {"TransactItems": [{"Update": {"TableName": "t"}}, {"Put": {"TableName": "t"}}]}
    calls = iam.calls_of("PutKeyFunction", "dynamodb", "TransactWriteItems", params, {"TABLE_NAME": "t"})
    assert [c.action for c in calls] == ["dynamodb:UpdateItem", "dynamodb:PutItem"]
    assert all(iam.allowed(c) for c in calls)
    assert not iam.allowed(calls[0]._replace(function="ListKeysFunction"))
