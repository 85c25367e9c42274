"""Run one bot command for one person through the services, and say what happened.

Every rule (who may follow, post, see what) is the services' business: a refusal arrives as an
``intrablog.errors`` exception, which the caller turns into the answer (``errors.py``). Each command is one
service call, one unit of work.
"""

from __future__ import annotations

from typing import assert_never

from bridges.xmpp import commands, replies
from bridges.xmpp.acks import Acknowledgements
from bridges.xmpp.addresses import Addresses
from intrablog.domain.model import User
from intrablog.services.facade import Services
from intrablog.services.posts import PostDraft


class CommandHandlers:
    def __init__(self, services: Services, addresses: Addresses, public_url: str) -> None:
        self._services = services
        self._addresses = addresses
        self._public_url = public_url
        self._acks = Acknowledgements(services)

    async def run(self, user: User, command: commands.Command) -> str:
        services = self._services
        im = services.im
        match command:
            case commands.Help():
                return replies.help_text(self._addresses)
            case commands.Follow(target):
                return await im.follow(user, target)
            case commands.Leave(target):
                return await im.leave(user, target)
            case commands.DeliveryOn(target):
                return await im.set_delivery(user, target, True)
            case commands.DeliveryOff(target):
                return await im.set_delivery(user, target, False)
            case commands.Subscriptions():
                return replies.subscriptions(await im.settings(user))
            case commands.Channels():
                return replies.channels(await services.channels.list_visible(user), self._addresses)
            case commands.Direct(username, text):
                message = await services.messages.send(user, username, text)
                return replies.direct_sent(message.recipient.username)
            case commands.Get(target):
                return replies.latest(target, await im.latest(user, target), self._public_url)
            case commands.Whois(username):
                return replies.whois(await services.people.profile(user, username), self._addresses)
            case commands.Reply(post_id, text):
                post = await services.posts.create(user, PostDraft(text=text, in_reply_to=post_id))
                return replies.replied(post, self._public_url)
            case commands.Fav(post_id):
                return replies.favourited(await im.favourite(user, post_id), self._public_url)
            case commands.Ack(post_id):
                return await (self._acks.newest(user) if post_id is None else self._acks.post(user, post_id))
            case commands.Track(word):
                return await im.track(user, word)
            case commands.Untrack(word):
                return replies.untracked(word, await im.untrack(user, word))
            case commands.Tracks():
                return replies.tracks(await im.tracks(user))
            case commands.Stats():
                return replies.stats(await im.stats(user))
            case commands.Usage(verb, form):
                return replies.usage(form, commands.USAGE[verb][1])
            case commands.Unknown():
                return replies.UNKNOWN_COMMAND
            case _:
                assert_never(command)
