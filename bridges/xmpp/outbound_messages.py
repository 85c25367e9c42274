"""What a delivery looks like on IM: which address it comes from, its body, and what it replies to.

Pure functions of the delivery, so the wording is decided in one place and tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridges.xmpp.addresses import Addresses
from bridges.xmpp.replies import post_url
from intrablog.domain.im import Delivery, DeliveryReason, origin_id_for_post

# The last line of an announcement that asks for acknowledgement (inbound takes "ack" answered to it).
ACK_HINT = "Reply ack to acknowledge."


@dataclass(frozen=True)
class OutgoingMessage:
    to: str  # the recipient's bare JID
    sender: str  # the component address it comes from (the bridge sends from its full JID)
    body: str
    origin_id: str
    reply_to_origin: str | None = None
    reply_to_jid: str | None = None


def render(delivery: Delivery, addresses: Addresses, public_url: str) -> OutgoingMessage | None:
    """The message for ``delivery``; None when there is nothing left to send (the post was deleted)."""
    message = delivery.direct_message
    if message is not None:
        # Not a post: no link (it is on no page), and it comes from the sender's own address.
        return OutgoingMessage(
            to=delivery.recipient_jid,
            sender=addresses.person_jid(message.sender.username),
            body=message.text,
            origin_id=delivery.origin_id,
        )
    post = delivery.post
    if post is None or post.deleted_at is not None:
        return None
    link = post_url(public_url, post.id)
    if post.channel_name is not None:
        # One channel address speaks for many people: the body names the author, as commands do.
        sender = addresses.channel_jid(post.channel_name)
        body = f"{post.author.username}: {post.text}\n{link}"
    else:
        sender = addresses.person_jid(post.author.username)
        body = f"{post.text}\n{link}"
    if delivery.reason is DeliveryReason.REMINDER:
        # Threaded under the announcement, from its channel: "ack" answered to either one acknowledges it.
        return OutgoingMessage(
            to=delivery.recipient_jid,
            sender=sender,
            body=f"Reminder: please acknowledge — {post.author.username}: {post.text}\n{link} (reply ack)",
            origin_id=delivery.origin_id,
            reply_to_origin=origin_id_for_post(post.id),
            reply_to_jid=sender,
        )
    if post.urgent:
        body = f"URGENT: {body}"
    if post.requires_ack:
        body = f"{body}\n{ACK_HINT}"
    if post.in_reply_to is None:
        return OutgoingMessage(delivery.recipient_jid, sender, body, delivery.origin_id)
    # The parent reached this recipient (if at all) from the same address, under its own origin-id: a
    # client threads the reply under it; one without XEP-0461 shows the fallback instead.
    return OutgoingMessage(
        to=delivery.recipient_jid,
        sender=sender,
        body=body,
        origin_id=delivery.origin_id,
        reply_to_origin=origin_id_for_post(post.in_reply_to),
        reply_to_jid=sender,
    )


def held_summary(count: int, url: str) -> str:
    """The one line a person gets instead of the posts presence held back."""
    noun = "post" if count == 1 else "posts"
    return f"While you were away: {count} {noun} held back — {url}"
