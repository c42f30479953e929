"""OCPP-J 1.6 framing as a ``FrameCodec`` over ``firmware.ocpp.frames``."""

from __future__ import annotations

from typing import Any

from firmware.ocpp import frames
from firmware.ocpp.adapter import Received


class V16Codec:
    def read(self, text: str | bytes) -> Received:
        frame = frames.parse(text)
        if isinstance(frame, frames.CallFrame):
            # The 1.6 dispatcher checks the action, unfit values and the schema itself.
            return Received("call", frame.unique_id, frame.action, call=frame)
        if isinstance(frame, frames.ResultFrame):
            problem = frames.value_problem(frame.payload) if frame.suspect else None
            if problem is not None:  # a number or a string that does not fit: no answer
                return Received("error", frame.unique_id, code=problem.code,
                                description=f"invalid response: {problem.description}")
            return Received("result", frame.unique_id, payload=frame.payload)
        if isinstance(frame, frames.ErrorFrame):
            return Received("error", frame.unique_id, code=frame.code,
                            description=frame.description)
        reply = (frames.error_frame(frame.unique_id, frame.error)
                 if frame.unique_id is not None else None)
        return Received("bad", frame.unique_id, reply=reply, why=str(frame.error))

    def encode_call(self, message_id: str, action: str, payload: dict[str, Any]) -> str:
        return frames.call_frame(message_id, action, payload)

    def encode_result(self, message_id: str, action: str, payload: dict[str, Any]) -> str:
        return frames.result_frame(message_id, payload)

    def encode_error(self, message_id: str, error: Any) -> str:
        return frames.error_frame(message_id, error)

    def response_problem(self, action: str, payload: dict[str, Any]
                         ) -> tuple[dict[str, Any], tuple[str, str] | None]:
        problem = frames.schema_problem(3, action, payload)
        if problem is None:
            return payload, None
        return payload, (problem.code, problem.description)
