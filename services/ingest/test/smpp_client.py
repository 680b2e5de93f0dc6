"""An ESME written with Python's smpplib (PyPI), as a customer's system would bind to Tern: an independent
SMPP implementation for the SMPP server's tests. Commands come as JSON lines on stdin, results go out as JSON
lines on stdout; the test drives it.

  {"op": "submit", "text": ..., "encoding": "gsm"|"latin1"|"ucs2", "split": "udh"|"sar", "source": ..., "to": ...}
      -> {"op": "submitted", "parts": [{"status": n, "id": "..."}]}
  {"op": "receipts", "count": n, "timeout": s}
      -> {"op": "receipts", "receipts": [{"id": ..., "state": n, "text": ...}]}
  {"op": "quit"}
"""
import json
import socket
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm

ENCODINGS = {
    "gsm": smpplib.consts.SMPP_ENCODING_DEFAULT,
    "latin1": smpplib.consts.SMPP_ENCODING_ISO88591,
    "ucs2": smpplib.consts.SMPP_ENCODING_ISO10646,
}

host, port, system_id, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
client = smpplib.client.Client(host, port, timeout=1, allow_unknown_opt_params=True)
responses = []
receipts = []


def on_sent(pdu, **_):
    responses.append({"status": pdu.status, "id": (pdu.message_id or b"").decode("ascii", "replace")})


def on_received(pdu, **_):
    text = pdu.short_message.decode("ascii", "replace") if pdu.short_message else ""
    receipted = pdu.receipted_message_id
    if isinstance(receipted, bytes):
        receipted = receipted.decode("ascii")
    receipts.append({"id": receipted, "state": pdu.message_state, "esm_class": pdu.esm_class, "text": text})


client.set_message_sent_handler(on_sent)
client.set_message_received_handler(on_received)
client.set_error_pdu_handler(lambda pdu: None)
client.connect()
client.bind_transceiver(system_id=system_id, password=password)


def out(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def read_until(done, timeout):
    deadline = time.time() + timeout
    while not done() and time.time() < deadline:
        try:
            client.read_once(auto_send_enquire_link=False)
        except socket.timeout:
            pass


for line in sys.stdin:
    command = json.loads(line)
    if command["op"] == "submit":
        encoding = ENCODINGS[command["encoding"]]
        use_udhi = command.get("split", "udh") == "udh"
        parts, coding, esm_class = smpplib.gsm.make_parts(command["text"], encoding=encoding, use_udhi=use_udhi)
        reference = 0x4242
        responses.clear()
        for sequence, part in enumerate(parts, start=1):
            sar = (
                {"sar_msg_ref_num": reference, "sar_total_segments": len(parts), "sar_segment_seqnum": sequence}
                if not use_udhi and len(parts) > 1
                else {}
            )
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr=command["source"],
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=command["to"],
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
                **sar,
            )
            # One part at a time, as many ESMEs do: each waits for its answer.
            read_until(lambda: len(responses) >= sequence, 10)
        out({"op": "submitted", "parts": list(responses)})
    elif command["op"] == "receipts":
        read_until(lambda: len(receipts) >= command["count"], command["timeout"])
        out({"op": "receipts", "receipts": list(receipts)})
        receipts.clear()
    elif command["op"] == "quit":
        client.unbind()
        client.disconnect()
        break
