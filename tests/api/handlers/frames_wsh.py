# Frame-level patterns of real suites (WebKit, Chromium, web-platform-tests),
# written against pywebsocket3's private stream API; the mode is the query.
import struct

from pywebsocket3 import common, stream
from pywebsocket3.extensions import PerMessageDeflateExtensionProcessor


def _deflate(request):
    for processor in request.ws_extension_processors:
        if isinstance(processor, PerMessageDeflateExtensionProcessor):
            return processor
    return None


def web_socket_do_extra_handshake(request):
    processor = _deflate(request)
    request.ws_extension_processors = [processor]
    mode = request.ws_resource.partition('?')[2]
    if processor is not None and mode == 'bfinal':
        processor.set_client_no_context_takeover(True)


def _describe(frame):
    return '%d %d%d%d%d %d' % (frame.opcode, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3,
                               len(frame.payload))


def web_socket_transfer_data(request):
    mode = request.ws_resource.partition('?')[2]
    ws = request.ws_stream
    if mode == 'describe':
        # Report each raw frame's fields until a Close, which is answered by hand.
        while True:
            frame = ws._receive_frame_as_frame_object()
            if frame.opcode == common.OPCODE_CLOSE:
                ws._process_close_message(frame.payload)
                return
            if frame.opcode == common.OPCODE_PING:
                ws._send_pong(frame.payload)
                continue
            ws.send_message(_describe(frame))
    elif mode == 'tuple':
        opcode, payload, fin, rsv1, rsv2, rsv3 = ws._receive_frame()
        ws.send_message('%d %r %d %d %d %d' % (opcode, payload, fin, rsv1, rsv2, rsv3))
    elif mode == 'assemble':
        # Fragments joined by the handler itself, then echoed as one message.
        while True:
            frame = ws._receive_frame_as_frame_object()
            message = ws._get_message_from_frame(frame)
            if message is None:
                continue
            if ws.get_last_received_opcode() == common.OPCODE_CLOSE:
                ws._process_close_message(message)
                return
            ws.send_message(message, binary=ws.get_last_received_opcode() == 2)
    elif mode == 'message_then_frames':
        ws.send_message('got %s' % ws.receive_message())
        ws.send_message(_describe(ws._receive_frame_as_frame_object()))
    elif mode == 'message_then_payload':
        # The next frame's fields and its payload as it came (a pipelined Close's body).
        ws.send_message('got %s' % ws.receive_message())
        frame = ws._receive_frame_as_frame_object()
        ws.send_message(_describe(frame))
        ws.send_message(frame.payload, binary=True)
    elif mode == 'handmade':
        # Broken and unusual frames, written raw: a reserved opcode, RSV2, a ping
        # with a 126-byte payload (too long), then a text frame split by hand.
        ws._write(stream.create_header(0x3, 2, 1, 0, 0, 0, False) + b'ab')
        ws._write(stream.create_header(common.OPCODE_TEXT, 1, 1, 0, 1, 0, False) + b'x')
        ws._write(stream.create_header(common.OPCODE_PING, 126, 1, 0, 0, 0, False) + b'p' * 126)
        request.connection.write(
            stream.create_text_frame('hel', fin=0) +
            stream.create_text_frame('lo', opcode=common.OPCODE_CONTINUATION))
        ws.receive_message()
    elif mode == 'compression_toggle':
        processor = _deflate(request)
        while True:
            line = ws.receive_message()
            if line is None:
                return
            if line == 'off':
                processor.disable_outgoing_compression()
            elif line == 'on':
                processor.enable_outgoing_compression()
            elif line == 'bfinal':
                processor.set_bfinal(True)
            ws.send_message(line)
    elif mode == 'own_close':
        # Read the client's Close raw, answer with a hand-made one, and tell the
        # server it was sent (Chromium's and WebKit's client-close handlers).
        close_frame = ws.receive_bytes(6)
        request.connection.write(stream.create_close_frame(
            struct.pack('!H', 1000) + close_frame[:2]))
        request.server_terminated = True
    elif mode == 'pretend_client_closed':
        # WebKit's client-close-2: consume the Close raw, then pretend it was
        # processed, so the server sends its own Close when the handler returns.
        ws.receive_bytes(6)
        request.client_terminated = True
    elif mode == 'close_body':
        frame = ws._receive_frame_as_frame_object()
        code = struct.unpack('!H', frame.payload[:2])[0]
        ws._process_close_message(frame.payload)
        assert request.ws_close_code == code and request.client_terminated
