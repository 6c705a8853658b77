"""Conversation memory: every message stored in the warehouse, the recent turns replayed.

Earlier turns inform the model without flooding it: only the last HISTORY_TURNS
questions and the answers they got are replayed, without the calls and results
behind them (`recent_turns`). Tool artifacts (what the UI shows) are not stored.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from segassist.tools.text import truncate_for_model
from segassist.warehouse.schema import ConversationMessage
from sqlalchemy import Engine, delete, func, insert, select

HISTORY_TURNS = 3  # earlier questions and their answers kept in the prompt


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


EARLIER_ANSWER_CHARS = 600  # each earlier answer, cut to keep the prompt short


# A question that leans on an earlier one: it points back ("them", "those", "eles",
# "他们"), continues it ("And ...", "What about ...", "E ...", "那 ..."), or is too short
# to stand alone ("Why?", "And in 2011?").
_POINTS_BACK = re.compile(
    r"\b(?:they|them|their|theirs|those|these|the same|of them|among them|previous|above|"
    r"earlier|aforementioned|eles|elas|deles|delas|esses|essas|desses|dessas|"
    r"mesmos?|mesmas?|anterior(?:es)?|acima)\b|他们|她们|它们|这些|那些|其中|上面|刚才|同样|上述",
    re.I,
)
_CONTINUES = re.compile(
    r"^\s*(?:(?:and|but|also|what about|how about|then|so|e|mas|também|e quanto)\b|"
    r"那|还有|另外|再)",
    re.I,
)
SHORT_QUESTION_WORDS = 4


def refers_back(question: str) -> bool:
    """The question needs the earlier turns to be understood."""
    words = re.findall(r"\w+", question)
    return bool(
        _POINTS_BACK.search(question)
        or _CONTINUES.search(question)
        or (len(words) <= SHORT_QUESTION_WORDS and not re.search(r"[\u4e00-\u9fff]{6}", question))
    )


def recent_turns(history: list, question: str | None = None, turns: int = HISTORY_TURNS) -> list:
    """The last `turns` questions of the conversation, each with the answer it got, as
    plain messages: no tool calls, no tool results, no instructions of the agent's;
    none at all when `question` stands on its own (see `refers_back`).

    Replayed whole (calls, results and all), earlier turns cost accuracy: on the own
    evaluation set, questions asked fifth or later in one conversation passed 10 of 33
    where the same questions asked fresh passed 16 (the 1.5B model reused an earlier
    turn's query or answered in the earlier turns' language). A question and its answer
    carry what a follow-up needs ("and how much did they spend?"), and the prompt stays
    short, so fast.
    """
    from langchain_core.messages import AIMessage, HumanMessage
    from segassist.agent.guards import NUDGE_MARK

    if question is not None and not refers_back(question):
        return []
    answered: dict[int, tuple[str, str]] = {}  # position of a question -> it, its answer
    asked = None
    for position, message in enumerate(history):
        kind, content = getattr(message, "type", ""), message.content
        if kind == "human" and isinstance(content, str) and not content.startswith(NUDGE_MARK):
            asked = position
        elif kind != "ai" or asked is None or getattr(message, "tool_calls", None):
            continue
        elif text := str(content or "").strip():
            answered[asked] = (history[asked].content, text)  # the last answer counts
    kept = list(answered.values())[-turns:] if turns > 0 else []
    return [
        m
        for q, a in kept
        for m in (HumanMessage(q), AIMessage(truncate_for_model(a, EARLIER_ANSWER_CHARS)))
    ]
