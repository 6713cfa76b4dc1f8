"""The simulated camera's picture: it moves, and it shows the call sign, the device and the clock."""

from datetime import UTC, datetime, timedelta

from simulator.camera import FONT, CameraPicture, SyntheticVideoTrack

NOON = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def luma(picture: CameraPicture, now: datetime) -> bytes:
    return bytes(picture.frame(now).planes[0])


def test_the_picture_changes_from_one_moment_to_the_next():
    picture = CameraPicture("Car 11", "bc-2101")

    frames = [luma(picture, NOON + timedelta(seconds=s)) for s in (0, 0.5, 1, 1.5)]

    assert len(set(frames)) == 4


def test_the_square_moves_while_the_clock_stands_still_within_a_tenth_of_a_second():
    picture = CameraPicture("Car 11", "bc-2101")
    a, b = picture.planes(NOON), picture.planes(NOON + timedelta(milliseconds=50))

    bars = picture.bars_height * picture.width
    assert a[0][:bars] != b[0][:bars]  # the square moved
    assert a[0][bars:] == b[0][bars:]  # the caption (clock to a tenth) did not


def test_the_caption_names_the_unit_the_device_and_the_time():
    picture = CameraPicture("Car 11", "bc-2101")

    assert picture.text_lines(NOON) == [("CAR 11", 3), ("12:00:00.0", 3), ("BC-2101 2026-03-01", 2)]
    assert all(char in FONT for text, _ in picture.text_lines(NOON) for char in text)
    assert luma(picture, NOON) != luma(CameraPicture("Car 12", "bc-2101"), NOON)


def test_frames_have_the_requested_size_and_format():
    frame = CameraPicture("Sim 001", "ic-sim-001", 640, 360).frame(NOON)

    assert (frame.width, frame.height, frame.format.name) == (640, 360, "yuv420p")


async def test_the_track_stamps_frames_on_a_90_khz_clock_at_its_frame_rate():
    track = SyntheticVideoTrack(CameraPicture("Car 11", "bc-2101", 160, 90), fps=30)

    stamps = [(await track.recv()).pts for _ in range(4)]

    assert stamps == [0, 3000, 6000, 9000]
    assert track.frames_sent == 4
    track.stop()
