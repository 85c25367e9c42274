/* intrablog pages: progressive enhancement in plain JavaScript, no build step.
 * Everything works without this file (forms post, links navigate); with it the compose box counts
 * characters, Reply answers in place, relative times stay fresh and new posts arrive live over SSE.
 * The page's Content-Security-Policy allows only this file: no inline script, no inline handlers. */
(function () {
  "use strict";

  var body = document.body;
  var maxChars = parseInt(body.getAttribute("data-max-chars") || "280", 10);
  var liveStatus = document.getElementById("live-status");

  function announce(text) {
    if (liveStatus) {
      liveStatus.textContent = text;
    }
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* Post ids are 63-bit decimal strings, beyond a JavaScript number's precision: compare them as text. */
  function compareIds(a, b) {
    if (a.length !== b.length) {
      return a.length < b.length ? -1 : 1;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /* ---- compose box: live counter against the limit, reply mode ---------------------------------- */

  var compose = document.getElementById("compose");
  var textarea = compose ? compose.querySelector('textarea[name="text"]') : null;

  function countChars(text) {
    // Like the server: NFC, surrounding whitespace ignored, code points (not UTF-16 units) counted.
    return Array.from(text.normalize("NFC").trim()).length;
  }

  function setupCompose() {
    var counter = compose.querySelector(".counter");
    var button = compose.querySelector('button[type="submit"]');
    var wasOver = false;

    function update() {
      var used = countChars(textarea.value);
      var over = used > maxChars;
      counter.textContent = over
        ? used + " / " + maxChars + " characters: " + (used - maxChars) + " too many"
        : used + " / " + maxChars + " characters";
      counter.classList.toggle("over", over);
      button.disabled = over;
      textarea.setAttribute("aria-invalid", over ? "true" : "false");
      if (over !== wasOver) {
        // Screen readers hear the limit being crossed, not every keystroke.
        announce(over ? "Your post is over the " + maxChars + " character limit." : "Your post fits again.");
        wasOver = over;
      }
    }

    textarea.addEventListener("input", update);
    compose.addEventListener("submit", function (event) {
      if (countChars(textarea.value) > maxChars) {
        event.preventDefault();
      }
    });
    update();

    var replyField = compose.querySelector('input[name="in_reply_to"]');
    if (!replyField) {
      return; // a conversation's box: direct messages have no replies
    }
    var context = compose.querySelector(".reply-context");
    var label = compose.querySelector(".reply-label");
    var defaultReply = replyField.value;
    var defaultLabel = label.textContent;
    var cancel = compose.querySelector(".cancel-reply");
    cancel.hidden = Boolean(defaultReply);

    function setReply(id, name) {
      replyField.value = id;
      label.textContent = id ? "Replying to " + name : "";
      context.hidden = !id;
      // On a thread page the box answers the page's post anyway: nothing to cancel then.
      cancel.hidden = id === defaultReply;
    }

    cancel.addEventListener("click", function () {
      // On a thread page the box goes back to answering the page's post; elsewhere to a new post.
      replyField.value = defaultReply;
      label.textContent = defaultLabel;
      context.hidden = !defaultReply;
      cancel.hidden = Boolean(defaultReply);
      textarea.focus();
    });

    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a.reply") : null;
      if (!link) {
        return;
      }
      event.preventDefault();
      var author = link.getAttribute("data-author");
      setReply(link.getAttribute("data-reply-to"), link.getAttribute("data-author-name"));
      if (!textarea.value.trim() && author && author !== body.getAttribute("data-me")) {
        textarea.value = "@" + author + " ";
      }
      update();
      compose.scrollIntoView({ block: "nearest" });
      textarea.focus();
      textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    });
  }

  if (compose && textarea) {
    setupCompose();
  }

  /* ---- delete buttons ask first --------------------------------------------------------------- */

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("delete") && !window.confirm("Delete this post?")) {
      event.preventDefault();
    }
  });

  /* ---- relative times, exact local time on hover ------------------------------------------------ */

  function relative(date) {
    var seconds = (Date.now() - date.getTime()) / 1000;
    if (seconds < 45) { return "just now"; }
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) { return minutes + " min ago"; }
    var hours = Math.round(seconds / 3600);
    if (hours < 24) { return hours + " h ago"; }
    var days = Math.round(seconds / 86400);
    if (days < 7) { return days + " d ago"; }
    return date.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
  }

  function refreshTimes(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var date = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(date.getTime())) {
        times[i].textContent = relative(date);
        times[i].title = date.toLocaleString();
      }
    }
  }

  refreshTimes(document);
  window.setInterval(function () { refreshTimes(document); }, 30000);

  /* ---- live updates --------------------------------------------------------------------------- */

  var list = document.querySelector(".posts[data-live-url]");
  if (!list || !window.EventSource) {
    return;
  }
  var newestFirst = list.getAttribute("data-order") !== "oldest";
  var bar = document.querySelector(".new-posts");
  var barButton = bar ? bar.querySelector("button") : null;
  var empty = document.querySelector(".timeline .empty");
  var held = [];   // posts that arrived while the reader was scrolled down, shown by the bar
  var SCROLLED = 150;

  /* Posts carry data-post-id, direct messages data-message-id; both are time-ordered ids. */
  function itemId(node) {
    return node.getAttribute("data-post-id") || node.getAttribute("data-message-id");
  }

  function find(id) {
    return list.querySelector('[data-post-id="' + id + '"], [data-message-id="' + id + '"]');
  }

  function has(id) {
    if (find(id)) { return true; }
    for (var i = 0; i < held.length; i++) {
      if (itemId(held[i]) === id) { return true; }
    }
    return false;
  }

  function toNode(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var node = template.content.firstElementChild;
    // The pushed HTML is the same for every reader; this page's own secrets are filled in here.
    var forms = node.querySelectorAll("form.delete, form.ack");
    for (var i = 0; i < forms.length; i++) {
      forms[i].querySelector('input[name="csrf_token"]').value = csrfToken();
      forms[i].querySelector('input[name="next"]').value = window.location.pathname + window.location.search;
    }
    var ack = node.querySelector("form.ack");
    if (ack && ack.getAttribute("data-author") === body.getAttribute("data-me")) {
      // An author is not asked to acknowledge their own announcement.
      ack.parentNode.removeChild(ack);
      var badge = node.querySelector(".badge.ack");
      if (badge) { badge.textContent = "Asks for acknowledgement"; }
    }
    if (node.getAttribute("data-sender") && node.getAttribute("data-sender") === body.getAttribute("data-me")) {
      node.classList.add("mine");
    }
    refreshTimes(node);
    return node;
  }

  function place(node) {
    // Keep the page in id order (ids are time-ordered) whatever order posts arrive in.
    var id = itemId(node);
    var children = list.children;
    for (var i = 0; i < children.length; i++) {
      var other = itemId(children[i]);
      var before = newestFirst ? compareIds(id, other) > 0 : compareIds(id, other) < 0;
      if (before) {
        list.insertBefore(node, children[i]);
        return;
      }
    }
    list.appendChild(node);
  }

  function show(node) {
    node.classList.add("fresh");
    place(node);
    if (empty) { empty.hidden = true; }
  }

  function updateBar() {
    if (!bar) { return; }
    bar.hidden = held.length === 0;
    var words = held.length === 1 ? "1 new post" : held.length + " new posts";
    barButton.textContent = words + " — show";
    announce(held.length ? words : "");
  }

  if (barButton) {
    barButton.addEventListener("click", function () {
      var first = null;
      held.sort(function (a, b) { return compareIds(itemId(b), itemId(a)); });
      while (held.length) {
        var node = held.shift();
        show(node);
        first = node;
      }
      updateBar();
      if (first) {
        // Take the reader (and keyboard focus) to the newest post.
        var top = list.firstElementChild;
        top.setAttribute("tabindex", "-1");
        top.focus({ preventScroll: true });
        top.scrollIntoView({ block: "start" });
      }
    });
  }

  function receive(event) {
    var data = JSON.parse(event.data);
    if (has(data.id)) {
      return; // at most once, whatever the stream repeats after a reconnect
    }
    var node = toNode(data.html);
    if (newestFirst && window.scrollY > SCROLLED) {
      // The reader is reading further down: do not move the page under them.
      held.push(node);
      updateBar();
    } else {
      show(node);
      var kind = node.hasAttribute("data-message-id") ? "New message from " : "New post from ";
      announce(kind + (node.querySelector(".author") || {}).textContent);
    }
  }

  function remove(event) {
    var data = JSON.parse(event.data);
    var node = find(data.id);
    if (node) { node.parentNode.removeChild(node); }
    held = held.filter(function (n) { return itemId(n) !== data.id; });
    updateBar();
  }

  function stopped(text) {
    var note = document.querySelector(".live-stopped");
    if (!note) {
      note = document.createElement("p");
      note.className = "live-stopped";
      note.setAttribute("role", "status");
      list.parentNode.insertBefore(note, list);
    }
    note.textContent = text;
  }

  /* The one reminder round of an announcement: this reader had not acknowledged it yet. */
  function remind(event) {
    var data = JSON.parse(event.data);
    var main = document.getElementById("main");
    if (!main || document.querySelector('.ack-reminder[data-post-id="' + data.id + '"]')) {
      return;
    }
    var note = document.createElement("section");
    note.className = "ack-reminder";
    note.setAttribute("role", "alert");
    note.setAttribute("data-post-id", data.id);
    var text = document.createElement("p");
    text.appendChild(document.createTextNode("Reminder: please acknowledge this announcement — "));
    var link = document.createElement("a");
    link.href = data.url;
    // The event names the post only; when this page shows it, its own words make the better link.
    var shown = document.querySelector('article[data-post-id="' + data.id + '"] .post-text');
    var words = shown ? shown.textContent.replace(/\s+/g, " ").trim() : "";
    link.textContent = words ? (words.length > 80 ? words.slice(0, 79) + "…" : words) : "open the announcement";
    text.appendChild(link);
    note.appendChild(text);
    main.insertBefore(note, main.firstChild);
  }

  var source = new EventSource(list.getAttribute("data-live-url"));
  source.addEventListener("reminder", remind);
  source.addEventListener("post", receive);
  source.addEventListener("message", receive);
  source.addEventListener("delete", remove);
  source.addEventListener("gap", function () {
    stopped("Many posts arrived while this page was away. Reload the page to see them all.");
  });
  source.addEventListener("end", function () {
    source.close();
    stopped("Live updates have stopped. Reload the page to resume.");
  });
  source.addEventListener("open", function () {
    var note = document.querySelector(".live-stopped");
    if (note) { note.parentNode.removeChild(note); }
  });
  source.addEventListener("error", function () {
    // The browser reconnects by itself (sending Last-Event-ID); only a refused stream stays closed.
    if (source.readyState === EventSource.CLOSED) {
      stopped("Live updates have stopped. Reload the page to resume.");
    }
  });
  list.setAttribute("data-live", "connecting");
  source.addEventListener("open", function () { list.setAttribute("data-live", "open"); });
})();
