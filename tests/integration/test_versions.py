"""No lost update (SPEC section 12): a config's ETag, and If-Match on PUT and DELETE. Given two tabs that read
the same config, when both save, then the second is told (412) instead of silently winning."""

from __future__ import annotations

import re

import pytest

from infra import runtime
from modelconfig.storage import aws as aws_clients
from tests.support.api import Api
from tests.support.constants import FLASH, PRO

PATH = "/api/model-configs/blueprint"
LITE = "google-ai-studio/gemini-2.5-flash-lite"


def etag(reply) -> str:
    return reply.raw["headers"]["ETag"]


def test_an_action_without_an_override_has_the_fixed_tag_and_every_write_a_new_one(api, aws):
    assert etag(api.get(PATH)) == etag(api.get("/api/model-configs/deepDebugger")) == '"none"'
    first = api.put(PATH, {"modelName": PRO})
    second = api.put(PATH, {"modelName": PRO})  # the same choice again: still a new version
    assert etag(first) != etag(second) and '"none"' not in (etag(first), etag(second))
    assert re.fullmatch(r'"[0-9a-f]{16}"', etag(second))  # 64 random bits: short, and never guessed
    assert etag(api.get(PATH)) == etag(second)


def test_two_tabs_the_second_save_is_refused_and_nothing_is_written(api, aws):
    read = etag(api.get(PATH))
    assert api.put(PATH, {"modelName": PRO}, headers={"if-match": read}).status == 200  # tab one
    calls = aws.count_calls()
    stale = api.put(PATH, {"modelName": FLASH}, headers={"if-match": read})  # tab two, from the same read
    assert stale.status == 412 and stale.error["name"] == "PreconditionFailed"
    assert "changed since you read it" in stale.error["message"]
    assert calls == {"dynamodb.Query": 1}  # the read finds another version: nothing written, nothing audited
    assert api.get(PATH).data["config"]["name"] == PRO  # tab one's choice stands
    assert [e["after"]["modelName"] for e in aws.audit_entries("user-a")] == [PRO]


def test_a_save_overtaken_between_its_read_and_its_write_is_a_412_with_nothing_written(api, aws):
    read = etag(api.put(PATH, {"modelName": PRO}))
    client = aws_clients.dynamodb()
    raced: list[int] = []

    def other_tab(params, **_kw):  # tab two saves after tab one's read, before its transaction
        if not raced:
            raced.append(0)  # first: the other tab's own transaction passes through here too
            raced[0] = Api("user-a").put(PATH, {"modelName": LITE}).status

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", other_tab)
    try:
        stale = api.put(PATH, {"modelName": FLASH}, headers={"if-match": read})
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", other_tab)
    assert raced == [200] and stale.status == 412  # the transaction's condition refused it, the re-read said why
    assert api.get(PATH).data["config"]["name"] == LITE
    assert [e["after"]["modelName"] for e in aws.audit_entries("user-a")] == [PRO, LITE]  # no entry for FLASH


def test_a_matching_tag_saves_and_deletes(api, aws):
    saved = api.put(PATH, {"modelName": PRO}, headers={"if-match": '"none"'})  # "create only"
    assert saved.status == 200
    again = api.put(PATH, {"modelName": FLASH}, headers={"if-match": etag(saved)})
    assert again.status == 200 and again.data["config"]["modelName"] == FLASH
    assert api.delete(PATH, headers={"if-match": etag(saved)}).status == 412  # the old version
    assert api.delete(PATH, headers={"if-match": etag(again)}).status == 200
    assert api.get(PATH).data["config"]["isUserOverride"] is False


def test_a_star_matches_any_override_and_none_matches_only_its_absence(api, aws):
    assert api.put(PATH, {"modelName": PRO}, headers={"if-match": "*"}).status == 412  # nothing to match
    assert api.put(PATH, {"modelName": PRO}).status == 200
    assert api.put(PATH, {"modelName": PRO}, headers={"if-match": '"none"'}).status == 412  # one exists now
    assert api.put(PATH, {"modelName": FLASH}, headers={"if-match": "*"}).status == 200
    assert api.delete(PATH, headers={"if-match": '"none"'}).status == 412
    assert api.delete(PATH, headers={"if-match": "*"}).status == 200
    assert api.delete(PATH, headers={"if-match": '"none"'}).status == 404  # as expected, and nothing to delete


def test_an_override_written_before_revisions_has_its_own_tag_and_one_write_wins(api, aws):
    assert api.put(PATH, {"modelName": PRO}).status == 200
    aws.dynamodb.update_item(  # as an override written before this version stored revisions
        TableName=aws.table,
        Key={"pk": {"S": "USER#user-a"}, "sk": {"S": "CONFIG#blueprint"}},
        UpdateExpression="REMOVE revision",
    )
    old = etag(api.get(PATH))
    assert old == '"unrevised"'
    assert api.put(PATH, {"modelName": FLASH}, headers={"if-match": old}).status == 200
    assert api.put(PATH, {"modelName": PRO}, headers={"if-match": old}).status == 412  # the second tab


@pytest.mark.parametrize("value", ["abc", 'W/"none"', '"a" , "b"', '"has space"', '""', '"' + "x" * 65 + '"'])
def test_an_if_match_that_is_not_a_tag_is_a_400_naming_it(api, aws, value):
    for reply in (
        api.put(PATH, {"modelName": PRO}, headers={"if-match": value}),
        api.delete(PATH, headers={"if-match": value}),
    ):
        assert reply.status == 400 and reply.error["message"].startswith("If-Match: ")
    assert api.get(PATH).data["config"]["isUserOverride"] is False


def test_without_if_match_nothing_changes_for_existing_clients(api, aws):
    calls = aws.count_calls()
    assert api.put(PATH, {"modelName": PRO}).status == 200
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}
    assert api.delete(PATH).status == 200 and api.delete(PATH).status == 404
    assert Api("user-b").get(PATH).raw["headers"]["ETag"] == '"none"'  # another user's tag says nothing of mine


def test_cors_allows_if_match_and_exposes_etag():
    cors = runtime.template()["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]
    assert "if-match" in cors["AllowHeaders"] and cors["ExposeHeaders"] == ["etag"]
