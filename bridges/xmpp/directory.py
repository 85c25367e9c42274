"""What the component tells about its addresses: service discovery (XEP-0030) and vCards (XEP-0054).

Answers depend on who asks: disco#items on the bot lists the channels the asker may see (private ones only
for their members); a private channel answers a non-member exactly like one that does not exist
(``item-not-found``), since the services raise the same NotFound for both. Errors go through ``errors.py``.
"""

from __future__ import annotations

from typing import Any

from slixmpp import JID
from slixmpp.plugins.xep_0030.stanza.info import DiscoInfo
from slixmpp.plugins.xep_0030.stanza.items import DiscoItems
from slixmpp.plugins.xep_0054.stanza import VCardTemp

from bridges.xmpp import component as stanzas
from bridges.xmpp.addresses import Address, Addresses, AddressKind
from bridges.xmpp.errors import error_reply
from bridges.xmpp.stanza_log import stanza_context
from intrablog.domain.im import bare_jid
from intrablog.domain.model import User
from intrablog.errors import NotFound
from intrablog.services.facade import Services

BOT_NAME = "intrablog"
_COMMON_FEATURES = (
    stanzas.NS_DISCO_INFO,
    stanzas.NS_RECEIPTS,
    stanzas.NS_SID,
    stanzas.NS_REPLY,
    stanzas.NS_FALLBACK,
    stanzas.NS_NICK,
    stanzas.NS_VCARD,
    stanzas.NS_PING,
)


def _not_found(address: str) -> Any:
    return error_reply(NotFound(f"nothing answers at {address}")).stanza_error()


class Directory:
    def __init__(self, services: Services, addresses: Addresses, public_url: str, component: Any) -> None:
        self._services = services
        self._addresses = addresses
        self._public_url = public_url.rstrip("/")
        disco = component.plugin["xep_0030"]
        disco.api.register(self._info, "get_info")
        disco.api.register(self._items, "get_items")
        component.plugin["xep_0054"].api.register(self._vcard, "get_vcard")

    async def _asker(self, ifrom: Any) -> User | None:
        return await self._services.im.user_for_jid(bare_jid(str(ifrom))) if ifrom else None

    async def _visible(self, ifrom: Any, address: Address) -> tuple[User, str, str]:
        """(asker, display name, description) of a channel or person address the asker may see; raises
        the XMPP error for anything else."""
        user = await self._asker(ifrom)
        if user is None or address.kind not in (AddressKind.CHANNEL, AddressKind.PERSON):
            raise _not_found(address.bare)
        try:
            if address.kind is AddressKind.CHANNEL:
                view = await self._services.channels.show(user, address.name)
                return user, view.channel.title, view.channel.description
            profile = await self._services.people.profile(user, address.name)
            return user, profile.user.display_name, f"@{profile.user.username} on intrablog"
        except Exception as error:
            raise error_reply(error).stanza_error() from None

    async def _info(self, jid: Any, node: str | None, ifrom: Any, _iq: Any) -> Any:
        address = self._addresses.parse(str(jid))
        with stanza_context(str(_iq["id"]) if _iq is not None else None):
            if node:
                raise _not_found(f"{address.bare} node {node}")
            info = DiscoInfo()
            if address.kind is AddressKind.BOT:
                info.add_identity("component", "generic", name=BOT_NAME)
                info.add_feature(stanzas.NS_DISCO_ITEMS)
            else:
                _user, name, _description = await self._visible(ifrom, address)
                info.add_identity("client", "bot", name=name)
            for feature in _COMMON_FEATURES:
                info.add_feature(feature)
            return info

    async def _items(self, jid: Any, node: str | None, ifrom: Any, _iq: Any) -> Any:
        address = self._addresses.parse(str(jid))
        with stanza_context(str(_iq["id"]) if _iq is not None else None):
            items = DiscoItems()
            if address.kind is not AddressKind.BOT:
                await self._visible(ifrom, address)  # an invisible address has no items either: it is not there
                return items
            if node:
                raise _not_found(f"{address.bare} node {node}")
            user = await self._asker(ifrom)
            if user is not None:
                for channel in sorted(await self._services.channels.list_visible(user), key=lambda c: c.name):
                    items.add_item(JID(self._addresses.channel_jid(channel.name)), name=channel.title)
            return items

    async def _vcard(self, jid: Any, _node: str | None, ifrom: Any, _args: Any) -> Any:
        address = self._addresses.parse(str(jid))
        vcard = VCardTemp()
        if address.kind is AddressKind.BOT:
            vcard["FN"] = BOT_NAME
            vcard["NICKNAME"] = BOT_NAME
            vcard["DESC"] = 'The intrablog bot: send "help" for the commands.'
            vcard["URL"] = self._public_url
            return vcard
        _user, name, description = await self._visible(ifrom, address)
        vcard["FN"] = name
        vcard["NICKNAME"] = address.name
        if description:
            vcard["DESC"] = description
        vcard["URL"] = self._public_url
        return vcard
