"""What building one relation event costs: an envelope built by hand (as services did before
``relata_common.publishing``) against ``Publisher.event``, best of five runs of 5,000 each.

    uv run python bench/envelope_bench.py
"""

from __future__ import annotations

import argparse
import timeit
import uuid

from relata_common.events import RELATIONS_TOPIC, Actor, ActorKind, Envelope, RelationEventType
from relata_common.outbox import OutgoingEvent
from relata_common.publishing import Publisher
from relata_relations.settings import RelationsSettings

PUBLISHER = Publisher.of(RelationsSettings)
ACTOR = Actor(kind=ActorKind.USER, id="u1")
SUBJECT = uuid.uuid4()
PAYLOAD = {
    "state": {
        "relation_id": str(SUBJECT),
        "fields": {"first_name": "Jan", "last_name": "Jansen", "addresses": [{"city": "Utrecht"}]},
        "version": 3,
    },
    "changed_fields": ["first_name"],
}


def by_hand() -> OutgoingEvent:
    envelope = Envelope(
        event_id=uuid.uuid4(),
        type=RelationEventType.CREATED.value,
        producer="relations",
        subject_id=str(SUBJECT),
        subject_version=3,
        actor=ACTOR,
        payload=PAYLOAD,
    )
    return OutgoingEvent(RELATIONS_TOPIC, envelope)


def by_publisher() -> OutgoingEvent:
    return PUBLISHER.event(
        RELATIONS_TOPIC, RelationEventType.CREATED, SUBJECT, PAYLOAD, version=3, actor=ACTOR
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events per run (default 5000)")
    options = parser.parse_args()
    for name, build in (("by hand", by_hand), ("Publisher.event", by_publisher)):
        best = min(timeit.repeat(build, number=options.events, repeat=5))
        print(f"{name}: {best / options.events * 1e6:.2f} µs an event")


if __name__ == "__main__":
    main()
