package org.lcemodels.demo

import android.content.Context
import org.json.JSONObject
import org.lcemodels.tiles.Upscaler
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel

/**
 * A converted model from the app's assets, run by LCE's interpreter on one tile at a time.
 *
 * The flatbuffer's fixed input is the tile; its output/input ratio is the scale. The overlap
 * tiles need (the model's receptive radius) comes from the sidecar `<model>.json` that
 * `tools/convert.py` writes beside each `.tflite`.
 */
class SrModel(context: Context, val assetName: String, threads: Int) : Upscaler.TileModel, AutoCloseable {
    val sizeBytes: Long
    val tileHeight: Int
    val tileWidth: Int
    val scale: Int
    val overlap: Int
    private val interpreter: Interpreter
    private val input: ByteBuffer
    private val output: ByteBuffer

    init {
        val fd = context.assets.openFd(assetName)
        val model = fd.use { f ->
            FileInputStream(f.fileDescriptor).channel.use { channel ->
                channel.map(FileChannel.MapMode.READ_ONLY, f.startOffset, f.declaredLength)
            }
        }
        sizeBytes = fd.declaredLength
        // LCE's binary ops are not XNNPACK ops: a delegate would leave them out anyway, and
        // LCE documents running with it off.
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(false)
        interpreter = Interpreter(model, options)
        val inShape = interpreter.getInputTensor(0).shape()
        val outShape = interpreter.getOutputTensor(0).shape()
        require(inShape.size == 4 && inShape[3] == 3 && outShape[3] == 3) {
            "$assetName: the demo runs RGB models (input ${inShape.contentToString()})"
        }
        tileHeight = inShape[1]
        tileWidth = inShape[2]
        scale = outShape[1] / inShape[1]
        val sidecar = assetName.removeSuffix(".tflite") + ".json"
        overlap = context.assets.open(sidecar).bufferedReader().use {
            JSONObject(it.readText()).getInt("receptive_radius")
        }
        input = ByteBuffer.allocateDirect(4 * tileHeight * tileWidth * 3).order(ByteOrder.nativeOrder())
        output = ByteBuffer.allocateDirect(4 * tileHeight * scale * tileWidth * scale * 3)
            .order(ByteOrder.nativeOrder())
    }

    override fun run(input: FloatArray, output: FloatArray) {
        this.input.rewind()
        this.input.asFloatBuffer().put(input)
        this.output.rewind()
        interpreter.run(this.input, this.output)
        this.output.rewind()
        this.output.asFloatBuffer().get(output)
    }

    override fun close() = interpreter.close()
}
