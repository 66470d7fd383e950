import Foundation
import GuidedMethod
import GuidedModel
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A small BERT config: `layers` layers, hidden 8, 2 heads, FFN 16, vocabulary 30, 16 positions.
func tinyArchitecture(layers: Int, head: BertHead) throws -> BertArchitecture {
    let json = """
        {"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": \(layers), "num_attention_heads": 2,
         "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2}
        """
    return try BertArchitecture(config: try BertConfig(data: Data(json.utf8), path: "tiny-config.json"), head: head)
}

/// A Fisher in memory for every parameter of `architecture` (checkpoint names), values from `value(name, i)`.
func fisherFor(_ architecture: BertArchitecture, metadata: [String: String] = ["samples": "4"],
               value: (String, Int) -> Float = { _, i in Float(i % 7) * 0.1 }) throws -> FisherFile {
    var names: [String] = [], shapes: [String: [Int]] = [:], values: [String: [Float]] = [:]
    for slot in architecture.layout.slots {
        let name = architecture.checkpointName(slot)
        names.append(name)
        shapes[name] = slot.shape
        values[name] = (0..<slot.count).map { value(name, $0) }
    }
    return try FisherFile(names: names, shapes: shapes, values: values, metadata: metadata)
}

/// A fresh empty folder under the temporary directory.
func temporaryFolder(_ tag: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("guided-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Whether `a` and `b` agree within `relative` (with an absolute floor for values near 0).
func close(_ a: Double, _ b: Double, relative: Double = 1e-5, absolute: Double = 1e-12) -> Bool {
    abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
}

/// Parses an XML document and records its elements (name and attributes) in document order and
/// the text inside each element; `error` is set when the document is not well-formed.
final class XMLSummary: NSObject, XMLParserDelegate {
    private(set) var elements: [(name: String, attributes: [String: String])] = []
    private(set) var text = ""
    private(set) var error: Error?

    init(_ document: String) {
        super.init()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = self
        if !parser.parse() { error = parser.parserError ?? NSError(domain: "xml", code: 1) }
    }

    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }
    func all(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append((elementName, attributes))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }
}
