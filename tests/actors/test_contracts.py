"""The edge's view of actors (actors.contracts) agrees with the actors, and loads nothing heavy."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from actors import policy
from actors.broker import build_broker
from actors.capabilities import CAPABILITY_MODULES
from actors.contracts import wire
from actors.contracts.messages import Message, SendEmail, all_messages
from actors.contracts.relay import dramatiq_queue_arguments
from actors.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stub_broker() -> dramatiq.Broker:
    for module in CAPABILITY_MODULES:
        importlib.import_module(module)
    return build_broker(WorkerSettings(), orm=False)


def test_there_are_messages_and_each_names_an_actor_and_a_queue() -> None:
    messages = all_messages()
    assert SendEmail in messages
    for message_class in messages:
        assert message_class.actor_name
        assert message_class.queue_name


@pytest.mark.parametrize("message_class", all_messages(), ids=lambda cls: cls.__name__)
def test_every_message_matches_a_registered_actor_with_the_same_name_queue_and_parameters(
    stub_broker: dramatiq.Broker, message_class: type[Message]
) -> None:
    assert message_class.actor_name in stub_broker.get_declared_actors(), (
        f"no actor registered for {message_class.__name__}: add its module to "
        "actors/capabilities.py"
    )
    actor = stub_broker.get_actor(message_class.actor_name)
    assert actor.queue_name == message_class.queue_name
    assert list(inspect.signature(actor.fn).parameters) == list(message_class.field_names())


def test_every_registered_actor_has_a_message_class() -> None:
    for module in CAPABILITY_MODULES:
        importlib.import_module(module)
    names = {cls.actor_name for cls in all_messages()}
    assert {entry.actor_name for entry in policy.registered()} <= names


def test_the_embedded_broker_declares_every_contract_queue(stub_broker: dramatiq.Broker) -> None:
    assert {cls.queue_name for cls in all_messages()} <= stub_broker.get_declared_queues()


def test_wire_encoding_is_decoded_by_dramatiq_as_the_same_message() -> None:
    message = SendEmail(template="password_reset", to="ada@example.com", context={"token": "t1"})
    body = wire.encode_message(message, message_id="6f1c", timestamp_ms=1_700_000_000_123)

    decoded = dramatiq.Message.decode(body)

    assert decoded.queue_name == "email"
    assert decoded.actor_name == "send_email"
    assert decoded.args == ()
    assert decoded.kwargs == {
        "template": "password_reset",
        "to": "ada@example.com",
        "context": {"token": "t1"},
    }
    assert decoded.options == {}
    assert decoded.message_id == "6f1c"
    assert decoded.message_timestamp == 1_700_000_000_123
    # Byte for byte what Dramatiq itself would write for that message.
    assert decoded.encode() == body


@pytest.mark.parametrize("max_priority", [None, 10])
def test_relay_declares_queues_with_exactly_dramatiqs_arguments(max_priority: int | None) -> None:
    broker = RabbitmqBroker(url="amqp://127.0.0.1:1/", max_priority=max_priority)
    try:
        expected = broker._build_queue_arguments("email")  # type: ignore[no-untyped-call]
    finally:
        broker.close()
    assert dramatiq_queue_arguments("email", max_priority) == expected
    assert wire.delay_queue("email") == "email.DQ"
    assert wire.dead_letter_queue("email.DQ") == "email.XQ"


def test_importing_the_contracts_loads_no_dramatiq_pika_or_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import actors.contracts, actors.contracts.relay, actors.contracts.wire\n"
        "heavy = ('dramatiq', 'pika', 'reportlab', 'PIL', 'aiosmtplib', 'aio_pika')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_a_message_class_with_other_fields_than_its_actor_is_refused() -> None:
    async def send_email(template: str, to: str) -> None:
        return None

    with pytest.raises(TypeError, match="has fields"):
        policy.RegisteredActor(SendEmail, policy.ActorPolicy(), send_email)


def test_the_policy_table_lists_every_registered_actor() -> None:
    from actors.policy_table import render

    table = render()
    for entry in policy.registered():
        assert f"`{entry.actor_name}`" in table
    assert table == (ROOT / "docs" / "actor-policies.md").read_text(), (
        "docs/actor-policies.md is stale: python -m actors.policy_table > docs/actor-policies.md"
    )


def test_every_actor_declares_a_rate_limit_that_outlives_its_runs() -> None:
    for entry in policy.registered():
        limit = entry.policy.rate_limit
        assert limit is not None, f"{entry.actor_name} declares no rate limit"
        if limit.kind == "concurrent":
            # A slot held by a worker that died is freed only after ttl_ms: a ttl shorter than
            # the time limit would let a second run start beside a live one.
            assert limit.ttl_ms > entry.policy.time_limit_ms, entry.actor_name
