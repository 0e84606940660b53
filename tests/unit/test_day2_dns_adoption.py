"""Records already in the Cloudflare zone: adopted with `dns.adoptExisting` (Pulumi's import option) or
refused by name before anything is created (issue 14, item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

import cli.evaluate
from cli.evaluate import Evaluation
from spec.dns_adoption import WantedRecord, managed_comment, plan_adoption
from tests.growth.support import PreviousDeploymentMocks
from tests.stacks import PROD, variant, write_stack

DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
ZONE_ID = "zone-chrono-example-com"
APEX_A = {"id": "rec-apex", "name": "chrono.example.com", "type": "A", "content": "198.51.100.77", "comment": ""}
WWW_CNAME = {"id": "rec-www", "name": "www.chrono.example.com", "type": "CNAME", "content": "old.example.net", "comment": None}


class ZoneMocks(PreviousDeploymentMocks):
    """Cloudflare answers getDnsRecords with `records`; imports are recorded (Pulumi passes the id)."""

    def __init__(self, records: list[dict[str, Any]], outputs: dict[str, Any] | None = None) -> None:
        super().__init__(outputs=outputs or {})
        self.records = records
        self.imports: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.resource_id and args.typ == DNS_RECORD:
            self.imports[args.name] = args.resource_id
        return super().new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "cloudflare:index/getDnsRecords:getDnsRecords":
            return {"results": self.records}, []
        return super().call(args)


def evaluate(tmp_path: Path, values: dict[str, Any], mocks: ZoneMocks, monkeypatch: pytest.MonkeyPatch) -> Evaluation:
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: mocks)
    return cli.evaluate.evaluate(write_stack(tmp_path, values))


@pytest.mark.usefixtures("quiet_refusal")
def test_an_existing_apex_record_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mocks = ZoneMocks([APEX_A])
    with pytest.raises(pulumi.RunError) as caught:
        evaluate(tmp_path, PROD, mocks, monkeypatch)
    message = str(caught.value)
    assert "dns: chrono.example.com already has 1 A record(s) in Cloudflare not created by this stack (198.51.100.77)" in message
    assert "dns.adoptExisting: true" in message
    assert mocks.by_type(DNS_RECORD) == [] and mocks.by_type("hcloud:index/server:Server") == []


@pytest.mark.usefixtures("quiet_refusal")
def test_a_cname_where_an_a_record_goes_is_refused_even_when_adopting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = variant(PROD, dns={**PROD["dns"], "adoptExisting": True})
    with pytest.raises(pulumi.RunError) as caught:
        evaluate(tmp_path, values, ZoneMocks([WWW_CNAME]), monkeypatch)
    assert "dns: www.chrono.example.com is a CNAME to old.example.net in Cloudflare" in str(caught.value)


def test_adopting_imports_the_existing_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = variant(PROD, dns={**PROD["dns"], "adoptExisting": True})
    mocks = ZoneMocks([APEX_A])
    evaluation = evaluate(tmp_path, values, mocks, monkeypatch)
    assert mocks.imports == {"chrono-prod-dns-a-chrono-example-com": f"{ZONE_ID}/rec-apex"}
    assert len(evaluation.mocks.by_type(DNS_RECORD)) == 5  # A+AAAA for @ and www, CAA
    assert "chrono-prod-dns-a-chrono-example-com" in evaluation.outputs["dnsRecordIds"]


def test_the_stacks_own_records_are_not_conflicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = evaluate(tmp_path / "first", PROD, ZoneMocks([]), monkeypatch)
    ids = first.outputs["dnsRecordIds"]
    # The zone now lists the stack's own records: by id (from the last outputs) or by its comment.
    listed = [{"id": record_id, "name": "chrono.example.com", "type": "A", "content": "x", "comment": ""} for record_id in ids.values()]
    listed.append({"id": "other", "name": "www.chrono.example.com", "type": "A", "content": "y", "comment": managed_comment("chrono-prod")})
    again = evaluate(tmp_path / "again", PROD, ZoneMocks(listed, outputs=first.outputs), monkeypatch)
    assert len(again.mocks.by_type(DNS_RECORD)) == 5


def test_only_an_identical_caa_record_conflicts() -> None:
    wanted = [WantedRecord("caa", "example.com", "CAA")]
    other_ca = {"id": "1", "name": "example.com", "type": "CAA", "content": '0 issue "pki.goog"'}
    same = {"id": "2", "name": "example.com", "type": "CAA", "content": '0 issue "letsencrypt.org"'}
    assert plan_adoption(wanted, [other_ca], zone_id="z", prefix="p", adopt=False).problems == ()
    assert plan_adoption(wanted, [same], zone_id="z", prefix="p", adopt=False).problems
    assert plan_adoption(wanted, [same], zone_id="z", prefix="p", adopt=True).imports == {"caa": "z/2"}
