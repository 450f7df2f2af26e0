"""A real Thunderbird for tests: a fresh profile with one account, driven over Marionette.

Thunderbird runs headless with its own JavaScript at hand (`tests.marionette`); the
steps a person takes (write to an address, reply to a message, send) are done through
the same calls Thunderbird's buttons make, so that Thunderbird itself does the SMTP
submission, the copy to Sent and the `STORE +FLAGS (\\Answered)`.
"""

import asyncio
import json
import logging
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.marionette import Marionette
from tests.servers import TIMEOUT

THUNDERBIRD = shutil.which("thunderbird")
# The marks of a test module that drives a real Thunderbird.
NEEDS_THUNDERBIRD = [
    pytest.mark.slow,
    pytest.mark.skipif(
        THUNDERBIRD is None, reason="Thunderbird is not installed (apt-get install thunderbird)"
    ),
]

# Seconds Thunderbird may take to start and open Marionette on a busy machine.
STARTUP_SECONDS = 60.0

# The element the message pane renders a text body part in: format=flowed or not.
TEXT_PART = ".moz-text-flowed, .moz-text-plain"
# And an HTML one.
HTML_PART = ".moz-text-html"


@dataclass(frozen=True)
class MailAccount:
    """What a person types into Thunderbird's account settings."""

    address: str
    password: str
    imap_port: int  # implicit TLS
    smtp_port: int  # implicit TLS
    host: str = "127.0.0.1"


def profile_preferences(account: MailAccount) -> dict[str, Any]:
    """The `user.js` of a fresh profile: `account` set up, first-run questions answered.

    Thunderbird starts offline, so that it connects only once the test has stored the
    password and trusted the server's certificate (`Thunderbird.go_online`). IDLE
    stays on, as it is by default; the periodic check is an hour apart, so that only
    IDLE can bring new mail within a test.
    """
    return {
        # Any free port: Marionette writes the one it took to MarionetteActivePort.
        "marionette.port": 0,
        "offline.startup_state": 3,  # start offline
        "offline.autoDetect": False,
        "mail.shell.checkDefaultClient": False,
        "mail.provider.enabled": False,
        "mail.account.hub.enabled": False,
        "mailnews.start_page.enabled": False,
        "mail.rights.version": 1,
        "mail.inappnotifications.enabled": False,
        "app.update.enabled": False,
        "app.update.auto": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "datareporting.healthreport.uploadEnabled": False,
        "toolkit.telemetry.enabled": False,
        "mail.spellcheck.inline": False,
        # Unthreaded, so that every message is a row of the list, answers to answers too.
        "mailnews.default_view_flags": 0,
        "mail.accountmanager.accounts": "account1",
        "mail.accountmanager.defaultaccount": "account1",
        "mail.account.account1.server": "server1",
        "mail.account.account1.identities": "id1",
        "mail.server.server1.type": "imap",
        "mail.server.server1.name": account.address,
        "mail.server.server1.hostname": account.host,
        "mail.server.server1.port": account.imap_port,
        "mail.server.server1.socketType": 3,  # SSL/TLS
        "mail.server.server1.authMethod": 3,  # normal password
        "mail.server.server1.userName": account.address,
        "mail.server.server1.login_at_startup": True,
        "mail.server.server1.use_idle": True,
        "mail.server.server1.check_new_mail": True,
        "mail.server.server1.check_time": 60,  # minutes
        "mail.identity.id1.fullName": "Alice",
        "mail.identity.id1.useremail": account.address,
        "mail.identity.id1.smtpServer": "smtp1",
        "mail.identity.id1.valid": True,
        "mail.identity.id1.compose_html": False,
        "mail.identity.id1.reply_on_top": 1,  # write above the quote, as the app expects
        "mail.smtpservers": "smtp1",
        "mail.smtp.defaultserver": "smtp1",
        "mail.smtpserver.smtp1.type": "smtp",
        "mail.smtpserver.smtp1.hostname": account.host,
        "mail.smtpserver.smtp1.port": account.smtp_port,
        "mail.smtpserver.smtp1.try_ssl": 3,  # SSL/TLS
        "mail.smtpserver.smtp1.authMethod": 3,
        "mail.smtpserver.smtp1.username": account.address,
    }


def user_js(preferences: dict[str, Any]) -> str:
    """`preferences` as the lines of a profile's `user.js`."""
    return "".join(
        f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in preferences.items()
    )


class Thunderbird:
    """A running Thunderbird with one account, and what a person does in it."""

    def __init__(self, marionette: Marionette, account: MailAccount) -> None:
        """Drive the Thunderbird behind `marionette`, whose profile holds `account`."""
        self.marionette = marionette
        self.account = account

    def go_online(self, ca_pem: str) -> None:
        """Trust `ca_pem`, store the account's password, and work online.

        What a person does once by confirming the certificate and typing the password
        into the prompt. Thunderbird connects at the next thing it is asked to fetch
        (`get_messages`).
        """
        self.marionette.script(GO_ONLINE, ssl.PEM_cert_to_DER_cert(ca_pem).hex(), *self._logins())

    def _logins(self) -> list[str]:
        host = self.account.host
        return [f"imap://{host}", f"smtp://{host}", self.account.address, self.account.password]

    def get_messages(self) -> None:
        """Press Get Messages: Thunderbird logs in, opens the INBOX and idles in it."""
        self.marionette.script(WAIT_FOR + "mainWindow().goDoCommand('cmd_getNewMessages');")

    def watch_inbox(self) -> None:
        """Note, from now on, each message the INBOX's list shows, and when (`shown`)."""
        self.marionette.script(WATCH_INBOX)

    def shown(self) -> list[tuple[str, float]]:
        """The subjects that the INBOX's list came to show since `watch_inbox`, with when.

        When is in epoch seconds, the clock of `logging` records.
        """
        return [(subject, at / 1000) for subject, at in self.marionette.script(SHOWN)]

    def await_shown(self, subject: str, count: int) -> float:
        """Wait until the INBOX's list shows `count` messages titled `subject`; when it did."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            found = [at for title, at in self.shown() if title == subject]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.05)
        raise AssertionError(
            f"Thunderbird's INBOX did not show {subject!r} {count} times in {TIMEOUT:g} s;"
            f" it showed {self.shown()}"
        )

    def displayed(self) -> dict[str, Any]:
        """The folder the 3-pane window shows, the INBOX, and the subjects in the list."""
        return dict(self.marionette.script(DISPLAYED))

    def write(self, to: str, subject: str, text: str) -> None:
        """Write a new message and send it, as the Write and Send buttons do."""
        self.marionette.script(WRITE, to, subject, text)

    def reply(self, subject: str, first_line: str) -> None:
        """Reply to the newest INBOX message with `subject`: type `first_line`, and Send."""
        self.marionette.script(REPLY, subject, first_line)

    def view_body_as(self, view: str) -> None:
        """Choose View > Message Body As > `view`: "AllowHTML" (Original HTML) or "AsPlaintext".

        The menu item's own function (`MsgBodyAllowHTML`, ...) sets the display
        preferences; a message on show is shown again in the new view.
        """
        self.marionette.script(WAIT_FOR + f"mainWindow().MsgBody{view}();")

    def open_message(self, subject: str) -> None:
        """Select the newest message titled `subject` in the INBOX's list, as a click does.

        The INBOX is opened first if the 3-pane window shows another folder; the
        message pane then loads the message (`message_pane` waits for it).
        """
        self.marionette.script(OPEN_MESSAGE, subject)

    def folder_pane(self) -> list[str]:
        """The folders the folder pane has a row for, each as its path of names ("Tasks/Done").

        A subfolder's row is there whether or not its parent's row is expanded: a
        person sees it with one click on the twisty. The account's own row is left out.
        """
        return list(self.marionette.script(FOLDER_PANE))

    def open_folder(self, path: str) -> None:
        """Select the folder `path` ("Tasks", "Tasks/Done") in the folder pane, as a click does.

        Waits until the folder pane has its row (Thunderbird has listed the folders
        after logging in); the message list then shows the folder, which Thunderbird
        selects on the server, and goes on idling in (`rows` shows what it found).
        """
        self.marionette.script(OPEN_FOLDER, path)

    def rows(self) -> "ListedRows":
        """The folder the 3-pane window shows, and the rows of its message list, top down."""
        shown = self.marionette.script(ROWS)
        return ListedRows(
            folder=shown["folder"],
            rows=[ListedRow(subject, starred, uid) for subject, starred, uid in shown["rows"]],
        )

    def await_rows(
        self, what: str, condition: Callable[["ListedRows"], bool]
    ) -> tuple["ListedRows", float]:
        """Wait until the message list's rows meet `condition`; they, and when (epoch seconds).

        Only looks: nothing is refreshed and no folder is opened, so that what shows
        came by itself (IDLE).
        """
        deadline = time.monotonic() + TIMEOUT
        while True:
            listed = self.rows()
            if condition(listed):
                return listed, time.time()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Thunderbird's list did not come to show {what} in {TIMEOUT:g} s;"
                    f" it shows {listed}"
                )
            time.sleep(0.05)

    def star(self, subject: str, starred: bool = True) -> None:
        """Click the star of the row titled `subject`, if it is not yet `starred` (or is).

        The click goes to the row's star button, whose handler in the message list
        (`toggle-flag`) has the view flag or unflag the message: Thunderbird stores
        `\\Flagged` on the server itself.
        """
        self.marionette.script(STAR, subject, starred)

    def move(self, subject: str, path: str) -> None:
        """Move the row titled `subject` to the folder `path`, as Message > Move To does.

        The row is selected (a click), then the menu item's command (`cmd_moveMessage`)
        runs with the folder: Thunderbird moves the message on the server (MOVE).
        """
        self.marionette.script(MOVE, subject, path)

    def delete(self, subject: str) -> None:
        """Delete the row titled `subject`, as the Delete key in the message list does.

        The row is selected (a click), then the key's command (`cmd_deleteMessage`)
        runs: Thunderbird moves the message to Trash on the server (MOVE).
        """
        self.marionette.script(DELETE, subject)

    def message_pane(self, part: str) -> "DisplayedPart":
        """What the message pane shows of the message's body, once it shows `part`.

        `part` is a CSS selector of the element Thunderbird renders a body part in:
        `TEXT_PART` or `HTML_PART`.
        """
        shown = self.marionette.script(MESSAGE_PANE, part)
        return DisplayedPart(
            subject=shown["subject"],
            text=_spaces(shown["text"]),
            rows=[(_spaces(text), left) for text, left in shown["rows"]],
            columns=shown["columns"],
        )


@dataclass(frozen=True)
class DisplayedPart:
    """A body part as the message pane shows it to a person."""

    subject: str
    # Its text as read off the screen (`innerText`): one line per hard line break.
    text: str
    # The rows it takes on the screen, top to bottom: the text of each (without a
    # trailing space it wrapped at) and its left edge, in CSS pixels. A blank line
    # takes no row here.
    rows: list[tuple[str, float]]
    # How many characters of its font fit on a row ("x"s, if the font is not fixed).
    columns: int

    @property
    def lines(self) -> list[str]:
        """`text` cut into its lines."""
        return self.text.split("\n")


@dataclass(frozen=True)
class ListedRow:
    """A row of the message list as a person sees it."""

    subject: str
    # Whether its star is lit.
    starred: bool
    # The UID of the message it shows (Thunderbird's key of an IMAP message).
    uid: int


@dataclass(frozen=True)
class ListedRows:
    """What the message list shows: the folder's path ("Tasks") and its rows, top down."""

    folder: str
    rows: list[ListedRow]

    @property
    def subjects(self) -> list[str]:
        """The rows' subjects."""
        return [row.subject for row in self.rows]

    def titled(self, subject: str) -> ListedRow | None:
        """The row titled `subject`, if the list shows one."""
        return next((row for row in self.rows if row.subject == subject), None)


def _spaces(text: str) -> str:
    # Thunderbird keeps a plain text's runs of spaces as no-break spaces; a person
    # sees spaces.
    return text.replace("\u00a0", " ")


class ImapCommands(logging.Handler):
    """The IMAP commands the server logs, each with its session and epoch second."""

    def __init__(self) -> None:
        """Record every command from now on."""
        super().__init__(logging.DEBUG)
        self.commands: list[tuple[int, float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The server logs a command in the task of the session that received it.
        task = asyncio.current_task()
        line = record.getMessage().split(": ", 1)[-1]
        self.commands.append((id(task), record.created, line))

    def idling_in(self, mailbox: str, since: float = 0.0) -> bool:
        """Whether a session that selected `mailbox` last has started IDLE since.

        Only an IDLE from epoch second `since` on counts: one after a change, say,
        which the client has then heard of.
        """
        selected: dict[int, str] = {}
        for session, at, line in list(self.commands):
            words = line.split(" ", 2)
            if len(words) == 3 and words[1].lower() in ("select", "examine"):
                selected[session] = words[2].strip('"')
            if (
                len(words) == 2
                and words[1].upper() == "IDLE"
                and selected.get(session) == mailbox
                and at >= since
            ):
                return True
        return False

    def answered_store(self, count: int) -> float | None:
        """When the `count`th `UID STORE ... +FLAGS (\\Answered)` came, if it has."""
        stores = [
            at
            for _, at, line in list(self.commands)
            if " store " in line.lower() and "\\answered" in line.lower()
        ]
        return stores[count - 1] if len(stores) >= count else None

    def since(self, at: float) -> list[str]:
        """The commands that came from epoch second `at` on, without their tags."""
        return [line.split(" ", 1)[-1] for _, when, line in list(self.commands) if when >= at]


@contextmanager
def logged_imap_commands() -> Iterator[ImapCommands]:
    """Record what the IMAP server is asked while the block runs, from its debug log."""
    logger = logging.getLogger("mailcmd.imap.command_loop")
    handler = ImapCommands()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def running_thunderbird(account: MailAccount) -> Iterator[Thunderbird]:
    """Start Thunderbird on a fresh profile holding `account`; kill it and the profile after."""
    assert THUNDERBIRD is not None
    profile = Path(tempfile.mkdtemp(prefix="mailcmd-thunderbird-"))
    (profile / "user.js").write_text(user_js(profile_preferences(account)))
    log = (profile / "thunderbird.log").open("wb")
    process = subprocess.Popen(
        [
            THUNDERBIRD,
            "--headless",
            "--marionette",
            # Without it Marionette refuses the chrome context, and with it Thunderbird's APIs.
            "--remote-allow-system-access",
            "--no-remote",
            "--profile",
            str(profile),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"},
        # Its own process group, so that its helper processes end with it.
        start_new_session=True,
    )
    marionette = None
    try:
        marionette = _connect(profile, process)
        yield Thunderbird(marionette, account)
    finally:
        if marionette is not None:
            marionette.close()
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(TIMEOUT)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def _connect(profile: Path, process: subprocess.Popen[bytes]) -> Marionette:
    deadline = time.monotonic() + STARTUP_SECONDS
    active_port = profile / "MarionetteActivePort"
    while True:
        if process.poll() is not None:
            raise AssertionError(f"Thunderbird exited at start with {process.returncode}")
        try:
            return Marionette(int(active_port.read_text()))
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Thunderbird's Marionette did not listen in {STARTUP_SECONDS:g} s"
                ) from None
            time.sleep(0.2)


# The scripts below run in Thunderbird's chrome context; `arguments` holds what the
# Python side passes. Each waits for what it needs with a bounded poll.

WAIT_FOR = """
async function waitFor(what, condition, seconds = TIMEOUT_SECONDS) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const found = condition();
    if (found) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error("not reached in " + seconds + " s: " + what);
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}
function mainWindow() {
  return Services.wm.getMostRecentWindow("mail:3pane");
}
function inbox() {
  const server = MailServices.accounts.defaultAccount.incomingServer;
  return server.rootFolder.getFolderWithFlags(Ci.nsMsgFolderFlags.Inbox);
}
""".replace("TIMEOUT_SECONDS", str(int(TIMEOUT)))

GO_ONLINE = (
    WAIT_FOR
    + """
const [caHex, imapOrigin, smtpOrigin, user, password] = arguments;
const der = caHex.match(/../g).map(pair => String.fromCharCode(parseInt(pair, 16))).join("");
Cc["@mozilla.org/security/x509certdb;1"]
  .getService(Ci.nsIX509CertDB)
  .addCertFromBase64(btoa(der), "C,,");
for (const origin of [imapOrigin, smtpOrigin]) {
  const login = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
  login.init(origin, null, origin, user, password, "", "");
  await Services.logins.addLoginAsync(login);
}
await waitFor("the 3-pane window", () => mainWindow()?.gTabmail?.currentAbout3Pane);
Services.io.offline = false;
"""
)

# The rows of the 3-pane window's message list are looked at every 20 ms, and each
# new row of the INBOX is noted with the time it first showed: there is no event for
# "the list shows a new row". Nothing is refreshed and no folder is opened.
WATCH_INBOX = (
    WAIT_FOR
    + """
const window = mainWindow();
if (!window.mailcmdShown) {
  window.mailcmdShown = [];
  const counted = new Map();
  window.setInterval(() => {
    const about3Pane = window.gTabmail.currentAbout3Pane;
    const view = about3Pane?.gDBView;
    if (!view || about3Pane.gFolder != inbox()) {
      return;
    }
    const counts = new Map();
    for (let row = 0; row < view.rowCount; row++) {
      const subject = view.getMsgHdrAt(row).mime2DecodedSubject;
      counts.set(subject, (counts.get(subject) ?? 0) + 1);
    }
    for (const [subject, count] of counts) {
      for (let seen = counted.get(subject) ?? 0; seen < count; seen++) {
        window.mailcmdShown.push([subject, Date.now()]);
      }
      counted.set(subject, Math.max(count, counted.get(subject) ?? 0));
    }
  }, 20);
}
"""
)

SHOWN = WAIT_FOR + "return mainWindow().mailcmdShown;"

DISPLAYED = (
    WAIT_FOR
    + """
const about3Pane = mainWindow().gTabmail.currentAbout3Pane;
const view = about3Pane.gDBView;
const subjects = [];
for (let row = 0; row < view.rowCount; row++) {
  subjects.push(view.getMsgHdrAt(row).mime2DecodedSubject);
}
return { folder: about3Pane.gFolder.URI, inbox: inbox().URI, subjects };
"""
)

# Opens a compose window through `open()` and sends it once it is ready, the way the
# Send button does; returns when the window has closed (the mail is sent and filed).
COMPOSE = (
    WAIT_FOR
    + """
function composeWindows() {
  return [...Services.wm.getEnumerator("msgcompose")];
}
async function composeAndSend(open, ready, type) {
  const before = new Set(composeWindows());
  open();
  const window = await waitFor("a compose window", () =>
    composeWindows().find(w => !before.has(w) && w.gLoadingComplete && ready(w))
  );
  type(window);
  window.goDoCommand("cmd_sendNow");
  await waitFor("the compose window to close after sending", () => window.closed);
}
"""
)

WRITE = (
    COMPOSE
    + """
const [to, subject, text] = arguments;
const identity = MailServices.accounts.defaultAccount.defaultIdentity;
const fields = Cc["@mozilla.org/messengercompose/composefields;1"]
  .createInstance(Ci.nsIMsgCompFields);
fields.to = to;
fields.subject = subject;
fields.body = text;
const params = Cc["@mozilla.org/messengercompose/composeparams;1"]
  .createInstance(Ci.nsIMsgComposeParams);
params.type = Ci.nsIMsgCompType.New;
params.format = Ci.nsIMsgCompFormat.PlainText;
params.identity = identity;
params.composeFields = fields;
await composeAndSend(
  () => MailServices.compose.OpenComposeWindowWithParams(null, params),
  () => true,
  () => {}
);
"""
)

REPLY = (
    COMPOSE
    + """
const [subject, firstLine] = arguments;
const folder = inbox();
// Thunderbird files what IDLE announces in the INBOX also while another folder is shown.
const original = await waitFor("a message titled " + subject + " in the INBOX", () =>
  [...folder.msgDatabase.enumerateMessages()]
    .filter(header => header.mime2DecodedSubject == subject)
    .at(-1)
);
const identity = MailServices.accounts.defaultAccount.defaultIdentity;
await composeAndSend(
  () =>
    MailServices.compose.OpenComposeWindow(
      null,
      original,
      folder.getUriForMsg(original),
      Ci.nsIMsgCompType.ReplyToSender,
      Ci.nsIMsgCompFormat.PlainText,
      identity,
      null,
      mainWindow().msgWindow
    ),
  // The quote is in: Thunderbird has fetched the original and put the caret above it.
  window => window.GetCurrentEditor()?.rootElement?.textContent.includes("> "),
  window => window.GetCurrentEditor().insertText(firstLine)
);
"""
)

OPEN_MESSAGE = (
    WAIT_FOR
    + """
const [subject] = arguments;
const about3Pane = await waitFor(
  "the 3-pane window",
  () => mainWindow()?.gTabmail?.currentAbout3Pane
);
if (about3Pane.gFolder != inbox()) {
  about3Pane.displayFolder(inbox());
}
const found = await waitFor("a message titled " + subject + " in the INBOX's list", () => {
  const view = about3Pane.gFolder == inbox() ? about3Pane.gDBView : null;
  for (let row = (view?.rowCount ?? 0) - 1; row >= 0; row--) {
    if (view.getMsgHdrAt(row).mime2DecodedSubject == subject) {
      return { row };
    }
  }
  return null;
});
about3Pane.threadTree.selectedIndex = found.row;
"""
)

# The rows are found by where each character is drawn: a character whose box starts
# lower than the row's begins a new row. A space the pane wrapped at hangs at the end
# of its row and is left off.
MESSAGE_PANE = (
    WAIT_FOR
    + """
const [selector] = arguments;
const about3Pane = mainWindow().gTabmail.currentAbout3Pane;
const aboutMessage = about3Pane.messageBrowser.contentWindow;
const part = await waitFor("the message pane showing " + selector, () => {
  if (!aboutMessage.msgLoaded || !aboutMessage.gMessage) {
    return null;
  }
  const document = aboutMessage.getMessagePaneBrowser().contentDocument;
  return document?.readyState == "complete" ? document.querySelector(selector) : null;
});
const document = part.ownerDocument;
const range = document.createRange();
const walker = document.createTreeWalker(part, NodeFilter.SHOW_TEXT);
const rows = [];
let row = null;
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  for (let index = 0; index < node.length; index++) {
    const character = node.data[index];
    range.setStart(node, index);
    range.setEnd(node, index + 1);
    const box = range.getClientRects()[0];
    if (!box || character == "\\n") {
      continue;
    }
    if (!row || box.top >= row.bottom) {
      row = { text: "", left: box.left, bottom: box.bottom };
      rows.push(row);
    }
    row.text += character;
  }
}
const probe = document.createElement("span");
probe.textContent = "x".repeat(100);
probe.style.whiteSpace = "pre";
part.append(probe);
const width = probe.getBoundingClientRect().width / 100;
probe.remove();
const style = document.defaultView.getComputedStyle(part);
const room = part.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
return {
  subject: aboutMessage.gMessage.mime2DecodedSubject,
  text: part.innerText,
  rows: rows.map(({ text, left }) => [text.replace(/ +$/, ""), left]),
  columns: Math.floor(room / width),
};
"""
)

# A folder of the account by its path of names, as the folder pane shows them
# ("Tasks/Done"; the INBOX is "Inbox").
FOLDERS = (
    WAIT_FOR
    + """
function pathOf(folder) {
  const names = [];
  for (let at = folder; at && !at.isServer; at = at.parent) {
    names.unshift(at.name);
  }
  return names.join("/");
}
function folderAt(path) {
  const server = MailServices.accounts.defaultAccount.incomingServer;
  return server.rootFolder.descendants.find(folder => pathOf(folder) == path) ?? null;
}
async function about3Pane() {
  return waitFor("the 3-pane window", () => mainWindow()?.gTabmail?.currentAbout3Pane);
}
// What a click on a row does: the row is the selection, the message pane shows it.
async function selectRow(about3Pane, subject) {
  const { index } = await rowTitled(about3Pane, subject);
  about3Pane.threadTree.selectedIndex = index;
  await waitFor("the row of " + subject + " selected", () =>
    about3Pane.gDBView.hdrForFirstSelectedMessage?.mime2DecodedSubject == subject
  );
}
async function rowTitled(about3Pane, subject) {
  return waitFor("a row titled " + subject + " in the list", () => {
    const view = about3Pane.gDBView;
    for (let index = 0; index < (view?.rowCount ?? 0); index++) {
      if (view.getMsgHdrAt(index).mime2DecodedSubject == subject) {
        return { index };
      }
    }
    return null;
  });
}
"""
)

FOLDER_PANE = (
    FOLDERS
    + """
const folderTree = (await about3Pane()).folderTree;
const paths = new Set();
for (const row of folderTree.querySelectorAll('li[is="folder-tree-row"]')) {
  const names = [];
  for (let at = row; at; at = at.parentElement.closest('li[is="folder-tree-row"]')) {
    if (MailServices.folderLookup.getFolderForURL(at.uri)?.isServer) {
      break;
    }
    names.unshift(at.name);
  }
  if (names.length) {
    paths.add(names.join("/"));
  }
}
return [...paths];
"""
)

OPEN_FOLDER = (
    FOLDERS
    + """
const [path] = arguments;
const pane = await about3Pane();
const folder = await waitFor("a row for " + path + " in the folder pane", () => {
  const found = folderAt(path);
  return found && pane.folderPane.getRowForFolder(found) ? found : null;
});
// What a click on the row does: the row is selected (its parents expanded first),
// and the message list follows the selection.
pane.displayFolder(folder);
await waitFor("the message list showing " + path, () => pane.gFolder == folder && pane.gDBView);
"""
)

# A row's star is read off the row the list drew, where it is drawn; a row scrolled
# out of sight has the properties the view would draw it with.
ROWS = (
    FOLDERS
    + """
const pane = await about3Pane();
const view = pane.gDBView;
const rows = [];
for (let index = 0; index < (view?.rowCount ?? 0); index++) {
  const header = view.getMsgHdrAt(index);
  const drawn = pane.threadTree.getRowAtIndex(index);
  const properties = (drawn?.dataset.properties ?? view.getRowProperties(index)).split(" ");
  rows.push([header.mime2DecodedSubject, properties.includes("flagged"), header.messageKey]);
}
return { folder: pane.gFolder ? pathOf(pane.gFolder) : null, rows };
"""
)

STAR = (
    FOLDERS
    + """
const [subject, starred] = arguments;
const pane = await about3Pane();
const { index } = await rowTitled(pane, subject);
pane.threadTree.scrollToIndex(index, true);
const row = await waitFor("the row of " + subject + " drawn", () =>
  pane.threadTree.getRowAtIndex(index)
);
const lit = () => pane.gDBView.getMsgHdrAt(index).isFlagged;
if (lit() != starred) {
  const button = row.querySelector(".tree-button-flag");
  if (!button) {
    throw new Error("the row of " + subject + " has no star to click");
  }
  // A click of the primary button, once: what the list's click handler acts on.
  const click = { bubbles: true, cancelable: true, button: 0, detail: 1 };
  button.dispatchEvent(new pane.MouseEvent("click", click));
  await waitFor("the star of " + subject + (starred ? " lit" : " out"), () => lit() == starred);
}
"""
)

MOVE = (
    FOLDERS
    + """
const [subject, path] = arguments;
const pane = await about3Pane();
const destination = folderAt(path);
if (!destination) {
  throw new Error("no folder " + path);
}
await selectRow(pane, subject);
pane.commandController.doCommand("cmd_moveMessage", destination);
"""
)

DELETE = (
    FOLDERS
    + """
const [subject] = arguments;
const pane = await about3Pane();
await selectRow(pane, subject);
pane.commandController.doCommand("cmd_deleteMessage");
"""
)
