"""Follow-ups inside one batch: mails that reply to the same thread (In-Reply-To / References) or
name the same order number are linked; a later mail about the same unresolved issue is repeated
contact, which the labeling spec raises to high whatever the topic.

The batch is taken to be the unanswered inbox: a shop that has answered a mail removes it from the
inbox before scoring. Order-number links count as the same issue only when the predicted topic is
the same (a receipt question and a defect report on one order are two issues); thread replies
always do.
"""

from __future__ import annotations

import pandas as pd


class _Groups:
    """Union-find over row positions."""

    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def link(keys: pd.DataFrame) -> pd.DataFrame:
    """`follow_up_of` (id of the group's first mail, '' for none) and `contact_number` per row.

    `keys` has, per input row in order: id, received_at, topic, in_reply_to, references (space
    separated message ids) and orders (space separated order numbers).
    """
    keys = keys.reset_index(drop=True)
    groups = _Groups(len(keys))
    # Plain lists: iterating Arrow-backed columns (or itertuples) costs several times more.
    ids, topics, orders = keys["id"].tolist(), keys["topic"].tolist(), keys["orders"].tolist()
    position_of_id = {rid: i for i, rid in enumerate(ids) if rid}
    for i, (reply, references) in enumerate(zip(keys["in_reply_to"].tolist(), keys["references"].tolist())):
        for parent in {reply, *references.split()} - {""}:
            if parent in position_of_id:
                groups.union(i, position_of_id[parent])
    first_by_order: dict[tuple[str, str], int] = {}
    for i, (topic, numbers) in enumerate(zip(topics, orders)):
        if not isinstance(topic, str):
            continue
        for number in numbers.split():
            key = (number, topic)
            if key in first_by_order:
                groups.union(i, first_by_order[key])
            else:
                first_by_order[key] = i
    arrival = pd.to_datetime(keys["received_at"], utc=True, errors="coerce", format="ISO8601")
    frame = pd.DataFrame(
        {"group": [groups.find(i) for i in range(len(keys))], "arrival": arrival, "id": keys["id"]}
    )
    frame = frame.sort_values(["group", "arrival"], kind="stable", na_position="last")
    frame["contact_number"] = frame.groupby("group").cumcount() + 1
    first_id = frame.groupby("group")["id"].transform("first")
    frame["follow_up_of"] = first_id.where(frame["contact_number"] > 1, "")
    return frame.sort_index()[["follow_up_of", "contact_number"]]
