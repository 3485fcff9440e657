/** 00-common §6: bytes 32-126 print as themselves, every other byte as '.'. */
export function printableByte(b: number): number {
  return b >= 32 && b <= 126 ? b : 46;
}
