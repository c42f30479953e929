"""The hardware abstraction layer's error tree.

Every failure a device backend reports to the layers above is a ``HalError``. Drivers
raise their own ``DriverError`` subclasses (see ``drivers.errors``), which are also
``HalError`` so the runtime can catch one root per device.
"""

from __future__ import annotations


class BorneError(Exception):
    """Root of every error Borne raises, in every layer (the tree: ``firmware.errors``).

    Defined here, in the lowest layer, because hal and drivers must not import firmware;
    ``firmware.errors`` re-exports it.
    """


class HalError(BorneError):
    """Root of every hardware-layer failure."""


class DeviceOpenError(HalError):
    """A device, chip, pin or port could not be opened at start.

    The message names what failed (pin, chip label, port path) and the fix, because a
    technician reads it on a console with no other context.
    """


class DeviceUnavailable(HalError):
    """A device that was working stopped answering (timeout, unplugged, port gone)."""


class ContactorFault(HalError):
    """The contactor's feedback (mirror) contact disagrees with the coil command.

    ``vendor_error_code`` is what goes into StatusNotification.vendorErrorCode.
    """

    vendor_error_code = "ContactorFault"


class ContactorDidNotClose(ContactorFault):
    """The coil was energised but the feedback did not confirm 'closed' in time."""

    vendor_error_code = "ContactorNoPullIn"


class ContactorWelded(ContactorFault):
    """The coil is off but the feedback still says 'closed': a welded contact."""

    vendor_error_code = "ContactorWelded"


class MeterUnavailable(DeviceUnavailable):
    """The energy meter did not answer, or answered with data that cannot be a reading."""


class PaymentError(HalError):
    """Root of payment-terminal failures (``hal.interfaces.PaymentTerminal``)."""


class PaymentDeclined(PaymentError):
    """The terminal answered and refused the operation: card declined, PIN wrong,
    aborted at the terminal or by ``abort()``, unknown receipt number, timeout at the
    card reader. Nothing was booked by the operation that raised it.

    ``result_code`` is the terminal's own code (ZVT: the 06 1E error byte or the BMP 27
    result code; 0x6C = aborted), for logs and the transaction's payment data.
    """

    def __init__(self, message: str, result_code: int) -> None:
        super().__init__(message)
        self.result_code = result_code


class PaymentTerminalUnavailable(PaymentError, DeviceUnavailable):
    """The terminal stopped answering within its timeouts, or kept answering with frames
    that are not valid after the retries. The outcome of the operation that raised it is
    unknown: recover it with ``status()`` / the receipt number before retrying."""
