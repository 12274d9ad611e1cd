#!/usr/bin/env python3
"""Writes a contact list like the reference one of shared/notes/measurements.md:
`telefono;nombre;cita;notas`, mixed Spanish phone formats, N rows (default 1,000,000)."""
import random
import sys

n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
out = sys.argv[1]
rng = random.Random(42)
names = ["María García", "José Martínez", "Carmen López", "Antonio Sánchez", "Lucía Pérez", "Manuel Gómez", "Ana Martín", "Francisco Jiménez"]
with open(out, "w", encoding="utf-8", newline="") as f:
    f.write("telefono;nombre;cita;notas\r\n")
    for i in range(n):
        d = f"{rng.randrange(600000000, 749999999)}" if rng.random() < 0.8 else f"9{rng.randrange(10000000, 89999999)}"
        k = i % 5
        if k == 0:
            p = f"{d[0:3]} {d[3:5]} {d[5:7]} {d[7:9]}"
        elif k == 1:
            p = f"+34 {d[0:3]}-{d[3:6]}-{d[6:9]}"
        elif k == 2:
            p = f"0034{d}"
        elif k == 3:
            p = f"34{d}"
        else:
            p = d
        day = 1 + i % 28
        f.write(f"{p};{names[i % len(names)]};2026-12-{day:02d} {9 + i % 9:02d}:{(i * 7) % 60:02d};nota número {i} con texto libre\r\n")
