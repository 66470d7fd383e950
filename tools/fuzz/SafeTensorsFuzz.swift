// libFuzzer target for the safetensors reader (Sources/GuidedModel/SafeTensors).
// Built and run by tools/fuzz-safetensors.sh, which compiles this file together with
// Sources/GuidedModel/SafeTensors/*.swift and Sources/GuidedModel/ModelError.swift.
//
// Every input must either be rejected with a ModelError or be read consistently; anything else
// (a trap, an ASan report, a failed property below) is a finding. Properties checked:
//   - each name has an entry, and the entries tile the data block back to back;
//   - floats()/int64s() return elementCount values for the types they accept and throw otherwise;
//   - the F32 values of every float tensor survive SafeTensorsWriter.encode and a re-read, bit for bit;
//   - the header JSON survives StrictJSON serialize + parse (compact and pretty).
import Foundation

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz property failed: \(message())") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func safeTensorsFuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes, size > 0 else {
        check((try? SafeTensorsFile(data: Data(), path: "fuzz")) == nil, "an empty file was accepted")
        return 0
    }
    let data = Data(bytes: bytes, count: size)
    checkHeaderJSONRoundTrip(data)
    guard let file = try? SafeTensorsFile(data: data, path: "fuzz") else { return 0 }

    var covered = 0
    var floatTensors: [SafeTensorsWriter.Tensor] = []
    for name in file.names {
        guard let entry = file[name] else {
            check(false, "name \(name) has no entry")
            return 0
        }
        check(entry.dataRange.lowerBound == covered, "tensor \(name) does not start where the previous ended")
        covered = entry.dataRange.upperBound
        check(entry.byteCount == entry.elementCount * entry.dtype.bytesPerElement, "byte count of \(name)")
        let floats = try? file.floats(name)
        let ints = try? file.int64s(name)
        if entry.dtype.isFloatingPoint {
            check(floats?.count == entry.elementCount, "floats(\(name)) count")
            check(ints == nil, "int64s accepted float tensor \(name)")
            if let floats { floatTensors.append((name: name, shape: entry.shape, values: floats)) }
        } else {
            check(floats == nil, "floats accepted integer tensor \(name)")
            if entry.dtype != .U64 { check(ints?.count == entry.elementCount, "int64s(\(name)) count") }
        }
    }
    check(covered == data.count - file.dataBlockOffset, "tensors do not cover the data block")
    check((try? file.floats("\u{0}no such tensor")) == nil, "a missing tensor was read")

    // Write the float tensors back as F32 and read them again.
    do {
        let encoded = try SafeTensorsWriter.encode(floatTensors, metadata: file.metadata)
        let reread = try SafeTensorsFile(data: encoded, path: "fuzz-reencoded")
        check(reread.names == floatTensors.map(\.name), "re-encoded names")
        check(reread.metadata == file.metadata, "re-encoded metadata")
        for tensor in floatTensors {
            check(reread[tensor.name]?.shape == tensor.shape, "re-encoded shape of \(tensor.name)")
            let values = try reread.floats(tensor.name)
            check(values.map(\.bitPattern) == tensor.values.map(\.bitPattern), "re-encoded values of \(tensor.name)")
        }
    } catch {
        check(false, "re-encoding a valid file failed: \(error)")
    }
    return 0
}

/// If the input has a parseable header, compact and pretty serialisations must parse back to it.
private func checkHeaderJSONRoundTrip(_ data: Data) {
    guard data.count >= 8 else { return }
    var length = 0
    for i in 0..<8 { length |= Int(data[i]) << (8 * i) }
    guard length >= 0, length <= data.count - 8 else { return }
    guard let value = try? StrictJSON.parse([UInt8](data[8..<(8 + length)])) else { return }
    for pretty in [false, true] {
        let text = StrictJSON.serialize(value, pretty: pretty, sortKeys: false)
        check((try? StrictJSON.parse(text)) == value, "StrictJSON round trip (pretty: \(pretty))")
    }
}
