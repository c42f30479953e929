"""The 2.0.1 SendLocalList → the store's payload (``local_list``; rules §2, §8)."""

import pytest

from firmware.ocpp.v201.local_list import Unstorable, as_stored_payload


def test_fields_map_to_the_store_and_extras_are_dropped():
    assert as_stored_payload({
        "versionNumber": 4, "updateType": "Differential", "localAuthorizationList": [
            {"idToken": {"idToken": "AA01", "type": "ISO14443",
                         "additionalInfo": [{"additionalIdToken": "x", "type": "y"}]},
             "idTokenInfo": {"status": "Blocked", "cacheExpiryDateTime": "2030-01-01T00:00:00Z",
                             "groupIdToken": {"idToken": "G1", "type": "Central"},
                             "chargingPriority": 3, "language1": "fr", "evseId": [1],
                             "personalMessage": {"format": "UTF8", "content": "Bonjour"}}},
            {"idToken": {"idToken": "AA02", "type": "Central"}},
        ]}) == {"listVersion": 4, "updateType": "Differential", "localAuthorizationList": [
            {"idTag": "AA01", "idTagInfo": {"status": "Blocked",
                                            "expiryDate": "2030-01-01T00:00:00Z",
                                            "parentIdTag": "G1"}},
            {"idTag": "AA02"}]}


def test_without_a_list_there_is_none():
    assert as_stored_payload({"versionNumber": 0, "updateType": "Full"}) == {
        "listVersion": 0, "updateType": "Full"}


@pytest.mark.parametrize("status", ["NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation",
                                    "NotAtThisTime", "Unknown"])
def test_statuses_2_0_1_adds_are_not_allowed_to_charge(status):
    out = as_stored_payload({"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
        {"idToken": {"idToken": "A", "type": "Local"}, "idTokenInfo": {"status": status}}]})
    assert out["localAuthorizationList"][0]["idTagInfo"]["status"] == "Invalid"


@pytest.mark.parametrize("entry", [
    {"idToken": {"idToken": "A" * 21, "type": "eMAID"}},
    {"idToken": {"idToken": "A", "type": "eMAID"}, "idTokenInfo": {
        "status": "Accepted", "groupIdToken": {"idToken": "G" * 36, "type": "Central"}}},
])
def test_a_token_longer_than_the_store_holds_is_unstorable(entry):
    with pytest.raises(Unstorable) as raised:
        as_stored_payload({"versionNumber": 1, "updateType": "Full",
                           "localAuthorizationList": [{"idToken": {"idToken": "OK",
                                                                   "type": "Local"}}, entry]})
    assert raised.value.reason_code == "IdTokenTooLong"
    assert "localAuthorizationList/1" in raised.value.why
    assert "AAAA" not in raised.value.why and "GGGG" not in raised.value.why
