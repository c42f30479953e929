"""Control pilot arithmetic for the MCU (sans-I/O; runs unchanged on MicroPython and CPython).

Facts from /work/shared/reference/hardware.md §3 (IEC 61851-1):
- §3.1 CP high level: A +12 V, B +9 V, C +6 V, D +3 V, E 0 V, F -12 V; in B/C/D the negative
  half stays at -12 V, a missing -12 V means the EV's diode is shorted or missing.
- §3.2 duty: 6..51 A -> D% = I / 0.6; 51..80 A -> D% = I / 2.5 + 64; 51..52.5 A has no PWM
  (clamped to 51 A as EVerest does); 100 % = no energy offered (X1 / B1), 0 % = state F.
- §3.4 proximity pilot coding resistor -> cable rating.

Duty is in permyriad (0.01 %, 0..10000) and currents in deciamps, so that everything is an
integer (MicroPython's small ints, no floats on the safety path).
"""

# Boundaries between the nominal CP high levels (mV), midway between them, except E/F
# which is at -6 V: E is 0 V, F is -12 V.
BOUNDARY_AB_MV = 10500
BOUNDARY_BC_MV = 7500
BOUNDARY_CD_MV = 4500
BOUNDARY_DE_MV = 1500
BOUNDARY_EF_MV = -6000
# A reading must be this far past a boundary to leave the current state (hysteresis):
# noise around a boundary cannot make the state flap.
HYSTERESIS_MV = 400
# Negative half of the PWM in B/C/D must be below this (nominal -12 V); above it the EV's
# diode is missing or shorted (hardware.md §3.1, esp32-evse: "detect -6 V").
DIODE_LOW_MAX_MV = -10000

DUTY_FULL = 10000  # 100 %: steady +12 V, no energy offered (X1; pilot B1 with an EV)
DUTY_STATE_F = 0  # steady -12 V

MIN_OFFER_DA = 60  # 6 A, the lowest current a PWM can signal
MAX_OFFER_DA = 800  # 80 A, the highest
GAP_LOW_DA = 510  # 51 A .. 52.5 A has no defined PWM: clamp down to 51 A
GAP_HIGH_DA = 525

_ORDER = "ABCDEF"
_UPPER = {  # upper edge of each state's band (mV); None = unbounded
    "A": None,
    "B": BOUNDARY_AB_MV,
    "C": BOUNDARY_BC_MV,
    "D": BOUNDARY_CD_MV,
    "E": BOUNDARY_DE_MV,
    "F": BOUNDARY_EF_MV,
}
_LOWER = {
    "A": BOUNDARY_AB_MV,
    "B": BOUNDARY_BC_MV,
    "C": BOUNDARY_CD_MV,
    "D": BOUNDARY_DE_MV,
    "E": BOUNDARY_EF_MV,
    "F": None,
}


def classify(high_mv: int) -> str:
    """The state letter of one CP high-phase reading, by the plain boundaries."""
    if high_mv >= BOUNDARY_AB_MV:
        return "A"
    if high_mv >= BOUNDARY_BC_MV:
        return "B"
    if high_mv >= BOUNDARY_CD_MV:
        return "C"
    if high_mv >= BOUNDARY_DE_MV:
        return "D"
    if high_mv >= BOUNDARY_EF_MV:
        return "E"
    return "F"


def within_band(state: str, high_mv: int) -> bool:
    """True when the reading is inside `state`'s band widened by HYSTERESIS_MV on both sides
    (never for state None, "not classified yet")."""
    if state is None:
        return False
    upper = _UPPER[state]
    lower = _LOWER[state]
    if upper is not None and high_mv >= upper + HYSTERESIS_MV:
        return False
    if lower is not None and high_mv < lower - HYSTERESIS_MV:
        return False
    return True


def duty_for(offer_da: int) -> int:
    """PWM duty (permyriad) that signals at most `offer_da` deciamps (hardware.md §3.2).

    0 -> DUTY_FULL (no energy offered). Rounds down, so the EV never reads more than offered.
    Raises ValueError for 1..59 and above MAX_OFFER_DA (not signallable).
    """
    if offer_da == 0:
        return DUTY_FULL
    if offer_da < MIN_OFFER_DA or offer_da > MAX_OFFER_DA:
        raise ValueError("offer out of 6..80 A")
    if offer_da < GAP_HIGH_DA:
        if offer_da > GAP_LOW_DA:
            offer_da = GAP_LOW_DA
        return offer_da * 50 // 3  # D% = I / 0.6 -> permyriad = da * 100 / 6
    return offer_da * 4 + 6400  # D% = I / 2.5 + 64 -> permyriad = da * 4 + 6400


def cable_rating_a(pp_ohm: int) -> int:
    """Type 2 cable rating from the PP coding resistor (hardware.md §3.4).

    Returns 13/20/32/63, 0 for no cable (> 2200 ohm), -1 for a short (< 75 ohm).
    """
    if pp_ohm > 2200:
        return 0
    if pp_ohm > 1000:
        return 13
    if pp_ohm > 330:
        return 20
    if pp_ohm > 150:
        return 32
    if pp_ohm >= 75:
        return 63
    return -1


class PilotClassifier:
    """CP state from high-phase readings, with hysteresis and time debounce.

    The state changes only when readings have stayed outside the current state's widened
    band continuously for `debounce_ms`; the new state is then the latest reading's class.
    (Counting "away" time rather than time in one candidate state means readings that
    alternate between two other states still leave the current one.)
    """

    def __init__(self, debounce_ms: int, initial=None) -> None:
        self.debounce_ms = debounce_ms
        self.state = initial
        self._away_since = -1  # time of the first reading outside the band; -1 = inside

    def reset(self, state) -> None:
        self.state = state
        self._away_since = -1

    def sample(self, high_mv: int, now_ms: int) -> bool:
        """Feed one reading; True when the state changed."""
        if within_band(self.state, high_mv):
            self._away_since = -1
            return False
        if self._away_since < 0:
            self._away_since = now_ms
        if now_ms - self._away_since < self.debounce_ms:
            return False
        new = classify(high_mv)
        self._away_since = -1
        if new == self.state:
            return False
        self.state = new
        return True
