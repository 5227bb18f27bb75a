"""PRIVACY.md item 14 against a real Mosquitto run from deploy/mosquitto/mosquitto.conf:
no anonymous clients, per-agent passwords, each agent confined to its own topics, TLS."""

from __future__ import annotations

import itertools
import ssl
from collections.abc import Iterator

import pytest

from edge.protocol import subscription_for_hub, topic_for
from hub.admin.provision import HUB_ACCOUNT, revoke_agent
from tests.support.secure_broker import Client, SecureBroker, connect, wait_until

pytestmark = pytest.mark.broker
_ids = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@pytest.fixture
def hub_client(secure_broker: SecureBroker) -> Iterator[Client]:
    client = Client(HUB_ACCOUNT, secure_broker.hub_password).connect(secure_broker.plain_port)
    assert client.ok, client.reason
    assert all(not r.is_failure for r in client.subscribe(*subscription_for_hub()))
    yield client
    client.close()


def test_anonymous_clients_are_refused_on_both_listeners(secure_broker: SecureBroker) -> None:
    assert not connect(secure_broker, None, None).ok
    anonymous_tls = connect(secure_broker, None, None, tls=True, ca=secure_broker.ca)
    assert not anonymous_tls.ok
    assert "authori" in anonymous_tls.reason.lower()  # TLS worked; the broker said no


def test_a_wrong_password_is_refused(secure_broker: SecureBroker) -> None:
    name = unique("pw")
    password = secure_broker.add(name, "site-a")
    assert connect(secure_broker, name, password).ok
    assert not connect(secure_broker, name, password + "x").ok
    assert not connect(secure_broker, name, "").ok
    assert not connect(secure_broker, HUB_ACCOUNT, password).ok  # one agent, one account


def test_an_agent_publishes_its_own_topics_and_the_hub_receives_them(
    secure_broker: SecureBroker, hub_client: Client
) -> None:
    name = unique("own")
    agent = Client(name, secure_broker.add(name, "site-a"), tls=True, ca=secure_broker.ca)
    assert agent.connect(secure_broker.tls_port).ok, agent.reason
    try:
        for kind in ("desks", "status", "zones", "checkins", "health"):
            topic = topic_for("site-a", name, kind)  # type: ignore[arg-type]
            agent.publish(topic, b"{}")
            assert hub_client.wait_for(topic) == b"{}", kind
    finally:
        agent.close()


def test_an_agent_cannot_publish_as_another_agent_or_another_site(
    secure_broker: SecureBroker, hub_client: Client
) -> None:
    a, b = unique("a"), unique("b")
    password_a = secure_broker.add(a, "site-a")
    secure_broker.add(b, "site-a")
    agent = Client(a, password_a, tls=True, ca=secure_broker.ca).connect(secure_broker.tls_port)
    assert agent.ok, agent.reason
    forged = [
        topic_for("site-a", b, "desks"),  # B's topics
        topic_for("site-a", b, "status"),
        topic_for("site-b", a, "desks"),  # its own name under a site it does not belong to
        topic_for("site-a", a, "config"),  # hub -> edge direction
    ]
    try:
        for topic in forged:
            agent.publish(topic, b"forged")
        marker = topic_for("site-a", a, "health")
        agent.publish(marker, b"marker")  # same connection: delivered after the forgeries
        assert hub_client.wait_for(marker) == b"marker"
    finally:
        agent.close()
    received = {topic for topic, _ in hub_client.messages}
    assert received.isdisjoint(forged)


def test_an_agent_cannot_subscribe_to_another_agents_config_or_feedback(
    secure_broker: SecureBroker, hub_client: Client
) -> None:
    a, b = unique("a"), unique("b")
    password_a = secure_broker.add(a, "site-a")
    secure_broker.add(b, "site-a")
    agent = Client(a, password_a, tls=True, ca=secure_broker.ca).connect(secure_broker.tls_port)
    assert agent.ok, agent.reason
    try:
        theirs = [topic_for("site-a", b, "config"), topic_for("site-a", b, "feedback"),
                  "deskpulse/v1/#", f"deskpulse/v1/site-a/{b}/#"]
        agent.subscribe(*theirs)  # may be granted; what matters is what gets delivered
        own = [topic_for("site-a", a, "config"), topic_for("site-a", a, "feedback")]
        assert all(not r.is_failure for r in agent.subscribe(*own))
        for topic in theirs[:2]:
            hub_client.publish(topic, b"secret")
        hub_client.publish(topic_for("site-a", b, "desks"), b"not-yours")  # via a wildcard?
        for topic in own:
            hub_client.publish(topic, b"mine")
            assert agent.wait_for(topic) == b"mine"
    finally:
        agent.close()
    assert all(payload == b"mine" for _, payload in agent.messages), agent.messages


def test_the_tls_listener_refuses_plain_mqtt_and_unverified_brokers(
    secure_broker: SecureBroker,
) -> None:
    name = unique("tls")
    password = secure_broker.add(name, "site-a")
    plain = connect(secure_broker, name, password, port=secure_broker.tls_port)
    assert not plain.ok, "a client without TLS talked to the TLS listener"
    with pytest.raises(ssl.SSLCertVerificationError):  # system CAs do not know our CA
        Client(name, password, tls=True).client.connect("127.0.0.1", secure_broker.tls_port)
    assert connect(secure_broker, name, password, tls=True, ca=secure_broker.ca).ok


def test_a_revoked_agent_is_refused_and_disconnected_after_the_broker_reloads(
    secure_broker: SecureBroker,
) -> None:
    name = unique("rev")
    password = secure_broker.add(name, "site-a")
    live = Client(name, password, tls=True, ca=secure_broker.ca).connect(secure_broker.tls_port)
    assert live.ok, live.reason
    assert revoke_agent(name, passwd_file=secure_broker.passwd, acl_file=secure_broker.acl)
    assert name not in secure_broker.acl.read_text()
    secure_broker.reload()
    assert wait_until(lambda: not connect(secure_broker, name, password).ok, 5)
    assert not connect(secure_broker, name, password, tls=True, ca=secure_broker.ca).ok
    try:  # Mosquitto re-checks connected clients on reload: the live session is closed too
        assert wait_until(lambda: not live.client.is_connected(), 5)
    finally:
        live.close()
