"""The console in a real browser: chat between two users on two pages (one
phone-sized), with the online list, unseen counts and seen marks updating live."""
import struct
import zlib

from playwright.sync_api import expect

from tests.e2e.pages import DESKTOP, PHONE, log_entry, register, shot, tab


def tiny_png():
    """A valid 2x2 RGB PNG."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_chat_between_two_pages(open_page):
    alice_page = open_page(DESKTOP)
    bob_page = open_page(PHONE)
    alice = register(alice_page, "rider", "Alice")
    bob = register(bob_page, "chat", "Bobby")

    # Alice's list shows Bobby, online, as soon as he connects.
    bob_in_alice = alice.locator(".contact", has_text="Bobby Tester")
    expect(bob_in_alice).to_have_attribute("data-online", "true")

    bob_in_alice.click()
    alice.locator("[data-form=send] input[name=text]").fill("Hi Bobby <b>not bold</b>")
    alice.locator("[data-form=send] button").click()
    sent = alice.locator("[data-field=messages] li.mine")
    expect(sent).to_have_count(1)
    expect(sent.locator(".mark")).to_have_attribute("data-seen", "false")

    # Bobby sees one unseen message from Alice; opening the conversation marks it seen.
    alice_in_bob = bob.locator(".contact", has_text="Alice Tester")
    expect(alice_in_bob).to_have_attribute("data-online", "true")
    expect(alice_in_bob.locator(".badge")).to_have_text("1")
    expect(bob_page.locator("#tabs [data-tab=chat] [data-unseen]")).to_have_text("1")
    shot(bob_page, "chat-unseen-phone")
    alice_in_bob.click()
    expect(alice_in_bob.locator(".badge")).to_have_count(0)
    expect(bob_page.locator("#tabs [data-tab=chat] [data-unseen]")).to_be_hidden()
    received = bob.locator("[data-field=messages] li.theirs")
    # Sent as text, shown as text.
    expect(received.locator(".text")).to_have_text("Hi Bobby <b>not bold</b>")
    expect(sent.locator(".mark")).to_have_attribute("data-seen", "true")

    # A reply while both conversations are open is seen at once.
    bob.locator("[data-form=send] input[name=text]").fill("Hello Alice")
    bob.locator("[data-form=send] button").click()
    expect(alice.locator("[data-field=messages] li.theirs .text")).to_have_text("Hello Alice")
    expect(bob.locator("[data-field=messages] li.mine .mark")).to_have_attribute(
        "data-seen", "true")
    # Only Bobby's reply: X-Socket-ID kept Alice's own message from echoing back.
    expect(log_entry(alice_page, "rider", "newMessage")).to_have_count(1)

    # What arrives while Bobby looks at another tab is seen only when he comes back.
    tab(bob_page, "rider")
    alice.locator("[data-form=send] input[name=text]").fill("Still there?")
    alice.locator("[data-form=send] button").click()
    chat_badge = bob_page.locator("#tabs [data-tab=chat] [data-unseen]")
    expect(chat_badge).to_have_text("1")
    last_mark = alice.locator("[data-field=messages] li.mine").last.locator(".mark")
    expect(last_mark).to_have_attribute("data-seen", "false")
    tab(bob_page, "chat")
    expect(last_mark).to_have_attribute("data-seen", "true")
    expect(chat_badge).to_be_hidden()

    # An image goes through the auth service's media store and shows on both sides.
    bob.locator("[data-form=send] input[name=image]").set_input_files(
        {"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png()})
    expect(bob.locator("[data-field=attachment]")).to_contain_text("dot.png")
    bob.locator("[data-form=send] button").click()
    for panel in (alice, bob):
        image = panel.locator("[data-field=messages] li img")
        expect(image).to_have_count(1)
        expect(image).to_have_js_property("naturalWidth", 2)
    expect(log_entry(alice_page, "rider", "messages-seen")).to_have_count(2)
    expect(log_entry(alice_page, "rider", "newMessage")).to_have_count(2)
    shot(alice_page, "chat-desktop")
    shot(bob_page, "chat-phone")

    # Bobby logs out: Alice's list shows him offline.
    bob.locator("[data-action=logout]").click()
    expect(bob_in_alice).to_have_attribute("data-online", "false")
