"""The words the bot answers with: pure functions from what the services return to chat text.

Kept apart from the handlers so the wording is one place to read and change, and testable without a server.
"""

from __future__ import annotations

from bridges.xmpp.addresses import Addresses
from bridges.xmpp.commands import USAGE
from intrablog.domain.im import ImSettings, ImStats, ImTarget, TrackedWord
from intrablog.domain.model import Channel, Post
from intrablog.services.people import Profile

UNKNOWN_COMMAND = 'I don\'t know that command. Send "help" for the list.'


def help_text(addresses: Addresses) -> str:
    width = max(len(form) for form, _ in USAGE.values())
    lines = [f"  {form.ljust(width)}  {purpose}" for form, purpose in USAGE.values()]
    return "\n".join(
        [
            "intrablog commands (a channel by name, a person as @username):",
            *lines,
            f"Write to a channel at NAME@{addresses.domain} to post in it, and to a person at "
            f"~USERNAME@{addresses.domain} for a direct message. Answer a post to reply in its thread "
            "(or start a message with @<post id>); answer ack to an announcement to acknowledge it.",
        ]
    )


def usage(form: str, purpose: str) -> str:
    return f"Usage: {form} — {purpose}."


def describe_target(target: ImTarget | None) -> str:
    if target is None:
        return "everything"
    return f"@{target.name}" if target.kind == "person" else target.name


def post_url(public_url: str, post_id: int) -> str:
    return f"{public_url.rstrip('/')}/posts/{post_id}"


def post_text(post: Post, public_url: str) -> str:
    """A post as IM shows it: the author by username, as in the commands, and the post's link."""
    where = f" in {post.channel_name}" if post.channel_name else ""
    return f"{post.author.username}{where}: {post.text}\n{post_url(public_url, post.id)} (id {post.id})"


def latest(target: ImTarget, post: Post | None, public_url: str) -> str:
    if post is None:
        return (
            f"Nothing posted by {describe_target(target)} yet."
            if target.kind == "person"
            else (f"Nothing posted in {target.name} yet.")
        )
    return post_text(post, public_url)


def subscriptions(settings: ImSettings) -> str:
    delivery = "on" if settings.im_enabled else 'off (send "on" to switch it back on)'
    if not settings.subscriptions:
        return f'IM delivery is {delivery}. You follow nothing yet: try "follow <channel>" or "follow @user".'
    lines = [f"IM delivery is {delivery}. You follow:"]
    for item in sorted(settings.subscriptions, key=lambda s: (s.kind != "channel", s.name)):
        name = f"@{item.name}" if item.kind == "person" else item.name
        lines.append(f"  {name} — IM {'on' if item.im_delivery else 'off'}")
    return "\n".join(lines)


def channels(visible: list[Channel], addresses: Addresses) -> str:
    if not visible:
        return "There are no channels you can see yet."
    lines = ["Channels you can see (write to the address to post):"]
    for channel in sorted(visible, key=lambda c: c.name):
        notes = [channel.kind.value] + (["private"] if channel.is_private else [])
        lines.append(f"  {channel.name} — {channel.title} ({', '.join(notes)}) {addresses.channel_jid(channel.name)}")
    return "\n".join(lines)


def whois(profile: Profile, addresses: Addresses) -> str:
    user = profile.user
    lines = [f"{user.display_name} (@{user.username})"]
    if user.email:
        lines.append(f"  mail: {user.email}")
    lines.append(f"  followers: {profile.followers}, following: {profile.following}")
    lines.append(f"  you follow them: {'yes' if profile.followed_by_me else 'no'}")
    lines.append(f"  IM: {addresses.person_jid(user.username)}")
    if not user.active:
        lines.append("  (no longer in the directory)")
    return "\n".join(lines)


def direct_sent(username: str) -> str:
    return f"Sent to @{username}."


def replied(post: Post, public_url: str) -> str:
    return f"Replied in the thread: {post_url(public_url, post.id)} (id {post.id})"


# How much of a post an answer quotes to say which one it was about.
FIRST_WORDS_CHARS = 60


def first_words(text: str, limit: int = FIRST_WORDS_CHARS) -> str:
    """The start of ``text`` on one line, cut at a word boundary: "Office closed on Monday for the…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return f"{cut.rstrip(',;:.-')}…"


def acknowledged(post: Post, still_waiting: list[Post] | None = None) -> str:
    lines = [f"Acknowledged: {first_words(post.text)}"]
    if still_waiting:
        noun = "announcement is" if len(still_waiting) == 1 else "announcements are"
        lines.append(f"{len(still_waiting)} more {noun} waiting for you: send ack again, or ack <post id>:")
        lines.extend(f"  {other.id}: {first_words(other.text)}" for other in still_waiting[:5])
    return "\n".join(lines)


def nothing_to_acknowledge(channel: str | None) -> str:
    if channel is not None:
        return f"Nothing in {channel} is waiting for your acknowledgement."
    return "Nothing is waiting for your acknowledgement. To acknowledge a given post: ack <post id>."


def favourited(post: Post, public_url: str) -> str:
    return f"Saved as a favourite: {post_text(post, public_url)}"


def untracked(word: str, removed: bool) -> str:
    return f"No longer tracking '{word}'." if removed else f"You were not tracking '{word}'."


def tracks(words: list[TrackedWord]) -> str:
    if not words:
        return 'You track no words. "track <word>" sends you every post you can see that contains it.'
    return "You track: " + ", ".join(sorted(word.word for word in words))


def stats(numbers: ImStats) -> str:
    return "\n".join(
        [
            "Your numbers:",
            f"  posts: {numbers.posts}",
            f"  followers: {numbers.followers}",
            f"  following: {numbers.following_people} people, {numbers.following_channels} channels",
            f"  tracked words: {numbers.tracked_words}",
            f"  favourites: {numbers.favourites}",
        ]
    )
