"""Conversation memory: every message stored in the warehouse, the recent turns replayed.

Earlier turns inform the model without flooding it: only the last
HISTORY_MESSAGES messages, starting at a user turn, and earlier tool results
cut short. Tool artifacts (what the UI shows) are not stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from segassist.tools.text import truncate_for_model
from segassist.warehouse.schema import ConversationMessage
from sqlalchemy import Engine, delete, func, insert, select

HISTORY_MESSAGES = 12  # earlier turns kept in the prompt (a small model's context is short)


def _stored(message):
    """The message as stored: without its tool artifact (the UI's payload, not history)."""
    if getattr(message, "artifact", None) is not None:
        return message.model_copy(update={"artifact": None})
    return message


class ConversationStore:
    """Conversation history in the warehouse database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, conversation_id: str) -> list:
        """The stored messages of a conversation, oldest first."""
        from langchain_core.messages import messages_from_dict

        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(ConversationMessage.message)
                    .where(ConversationMessage.conversation_id == conversation_id)
                    .order_by(ConversationMessage.position)
                )
                .scalars()
                .all()
            )
        return messages_from_dict([r if isinstance(r, dict) else json.loads(r) for r in rows])

    def append(self, conversation_id: str, messages: list) -> None:
        """Store new messages after the existing ones."""
        from langchain_core.messages import messages_to_dict

        if not messages:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.engine.begin() as conn:
            start = (
                conn.execute(
                    select(func.coalesce(func.max(ConversationMessage.position), -1)).where(
                        ConversationMessage.conversation_id == conversation_id
                    )
                ).scalar_one()
                + 1
            )
            conn.execute(
                insert(ConversationMessage),
                [
                    {
                        "conversation_id": conversation_id,
                        "position": start + i,
                        "message": json.loads(json.dumps(m, default=str)),
                        "created_at": now,
                    }
                    for i, m in enumerate(messages_to_dict([_stored(m) for m in messages]))
                ],
            )

    def clear(self, conversation_id: str) -> None:
        """Forget a conversation."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(ConversationMessage).where(
                    ConversationMessage.conversation_id == conversation_id
                )
            )


EARLIER_RESULT_CHARS = 600  # tool results of earlier turns, cut to keep the prompt short


def recent_turns(history: list, keep: int) -> list:
    """The last `keep` messages, starting at a human turn (never mid tool exchange).

    Tool results of earlier turns are cut to EARLIER_RESULT_CHARS: the answers
    that followed them carry what mattered, and a small model's prompt must stay
    short to stay fast.
    """
    recent = history[-keep:]
    while recent and getattr(recent[0], "type", "") != "human":
        recent = recent[1:]
    return [
        m.model_copy(update={"content": truncate_for_model(m.content, EARLIER_RESULT_CHARS)})
        if getattr(m, "type", "") == "tool" and isinstance(m.content, str)
        else m
        for m in recent
    ]
